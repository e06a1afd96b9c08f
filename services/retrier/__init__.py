"""retrier: ``order.api_failed`` -> scheduled retries, balance-driven retries, or a person."""
