"""Benchmarks: each figure side by side with a baseline measured in the same run. `make bench`."""
