"""Kii-Cloud-compatible facade: request models, query translation and errors (DESIGN section 6)."""
