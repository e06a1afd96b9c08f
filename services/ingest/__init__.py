"""The signed ingest: Perfex's invoice events over HTTPS in, Kafka records out (issue 11)."""
