"""Kafka plumbing shared by the services."""
