"""Implementation package of shared.legacy.hash_schemes; import the public API from there."""
