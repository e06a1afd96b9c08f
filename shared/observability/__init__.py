"""What an operator scrapes: Prometheus metrics (``metrics``), the ``/metrics``, ``/livez`` and
``/readyz`` listener every service runs on ``METRICS_PORT`` (``server``), the gauges read from
PostgreSQL at scrape time (``gauges``)."""
