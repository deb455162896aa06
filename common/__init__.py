"""The ground floor every other package stands on: settings (``config``), JSON logging with masked numbers (``logs``),
the error root (``errors``), and the Kafka and S3 clients built from settings alone (``kafka_clients``, ``storage``).
It imports nothing of Courrier's own from above it."""
