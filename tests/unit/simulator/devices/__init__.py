"""Unit tests of the simulated devices (pure parts: readings, stores, knobs)."""
