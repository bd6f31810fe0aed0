#!/usr/bin/env python
"""Core engine benchmark: blazen vs. a bare-asyncio floor vs. llama-index-workflows.

    python bench/bench_core.py                 # full run (~1-2 min on 2 cores)
    python bench/bench_core.py --quick         # smaller sizes, 3 repeats
    python bench/bench_core.py --repeat 7 --only chain,fanout --profile fanout

Workloads (see bench/README.md): 1. a 10k-hop chain; 2. fan-out of N events;
3. 1,000 concurrent 3-step runs; 4. N ctx.set + N ctx.get; 5. a 100 MB bytes value set
and read through the context (time and peak memory, each in its own subprocess).

Every timed run uses a fresh event loop (``asyncio.run``) and measures itself with
``time.perf_counter``; contenders run interleaved round by round, after an untimed
warm-up, with ``gc.collect()`` before each run; the table shows medians.

This file is the entry point only: it puts ``<repo>/src`` (the working tree, not an
installed copy) and ``bench/`` on ``sys.path`` and runs ``core.cli.main`` (see bench/core/).
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
if SRC.is_dir() and str(SRC) not in sys.path and "--installed" not in sys.argv:
    sys.path.insert(0, str(SRC))  # benchmark the working tree
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from core.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
