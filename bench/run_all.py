"""Run every benchmark, one after the other, each in its own process.

    python bench/run_all.py [--quick]

Each script prints its own table of medians and ratios against the floor and the peers
measured in the same run. ``--quick`` passes the scripts' quick options (fewer repeats).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = {
    "bench_core.py": ["--quick"],
    "bench_snapshot.py": ["--repeats", "3"],
    "bench_store.py": ["--rounds", "3"],
    "bench_durable.py": ["--repeat", "3"],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats, for a smoke run")
    args = parser.parse_args()
    failed = []
    for script, quick in SCRIPTS.items():
        print(f"\n# {script}\n", flush=True)
        cmd = [sys.executable, str(HERE / script), *(quick if args.quick else [])]
        if subprocess.run(cmd, check=False).returncode != 0:
            failed.append(script)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
