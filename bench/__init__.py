"""camsweep benchmarks (see bench/run.py)."""
