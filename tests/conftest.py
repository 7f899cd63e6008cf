"""Shared pytest configuration for the minigrad test suite."""

from hypothesis import settings

# Examples are kept small so the suite stays fast on a 2-core machine; no deadline, because
# a loaded CI machine can stall any single example.
settings.register_profile("minigrad", max_examples=50, deadline=None)
settings.load_profile("minigrad")
