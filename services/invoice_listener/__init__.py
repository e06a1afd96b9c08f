"""invoice_listener: Perfex ``invoice.created`` / ``invoice.paid`` -> orders, ``order.ready``."""
