"""Benchmark grid as pytest items: ``pytest --pyargs bench.benchmarks --fpbench-preset smoke``."""
