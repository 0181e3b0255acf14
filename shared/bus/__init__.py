"""The office-separated event bus: envelope, outbox and relay, idempotent consumers, broker topology."""
