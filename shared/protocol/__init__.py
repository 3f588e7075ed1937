"""Pydantic models of the mobile-sync protocol v1 (DESIGN section 5), shared by the sync service
(validation), the gateway (what it sends) and the legacy transform (what migrated data must meet)."""
