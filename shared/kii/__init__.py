"""What both Kii-compatible facades (auth's users and tokens, sync's buckets) share: the error shape
and the application check (DESIGN section 6, reference kii-api.md sections 1.2 and 5)."""
