"""Benchmark harnesses (`python -m benchmarks.<name>`): measurements, not tests, kept out of the app packages."""
