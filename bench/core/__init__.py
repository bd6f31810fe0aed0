"""The core engine benchmark behind bench/bench_core.py; bench/README.md lists its modules."""
