"""Unit tests of the simulated radio (pure parts: URLs, advertisement mapping)."""
