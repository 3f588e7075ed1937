"""The outbox relay as its own process: publishes every service's outbox rows to Kafka (DESIGN section 8)."""
