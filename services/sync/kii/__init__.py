"""Kii-Cloud-compatible buckets and objects (DESIGN section 6): routes, access rules, the JSON
object store, the bucket mapping, and the query translator."""
