"""placer: ``order.ready`` -> one SUNSKY order -> ``order.placed`` / ``order.api_failed``."""
