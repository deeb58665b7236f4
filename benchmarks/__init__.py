"""Benchmarks (``make bench``): each module reports ratios measured in one run."""
