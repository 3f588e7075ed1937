"""Local verification of access tokens from the configured issuers (DESIGN section 4)."""
