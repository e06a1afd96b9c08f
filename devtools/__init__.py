"""The local development stack: an embedded Kafka-compatible broker and PostgreSQL discovery."""
