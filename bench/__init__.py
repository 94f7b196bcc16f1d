"""Benchmarks (``make bench``): not part of the test run; results under bench/results/."""
