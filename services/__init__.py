"""The worker services, one folder each: invoice_listener, placer, tracker, retrier."""
