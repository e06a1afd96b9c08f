"""The admin HTTP API (``/api/v1/``) and web console: a FastAPI service of its own, so admin
access never waits on a worker's recovery or a rebalance (``dropship admin serve``).

==================  ==========================================================================
``app``             ``create_app(settings)``: routers, error handlers, static files, lifespan
``runtime``         the admin's composition root: pool, SUNSKY client, outbox relay, built on
                    first use so the console starts (and says why) while PostgreSQL is away
``security``        who is calling: Bearer tokens (API), session cookie + CSRF (console), roles
``errors``          one JSON error shape, the body size limit, infrastructure errors as 503
``models``          pydantic models of every request and answer (the OpenAPI document)
``jobs``            bulk actions run in the background; ``GET /api/v1/jobs/{id}`` reads them
``idempotent``      ``Idempotency-Key`` on commands
``*_routes``        one module per area (orders, settings, billing, failures, health, auth),
                    each an API router and a page router calling ``application`` only
``templates/``      Jinja2 pages that render what they are given; ``static/`` htmx 2.0.11
==================  ==========================================================================

An admin surface: it imports ``application`` (and, to compose itself, ``shared``); no worker
service imports it and it imports none (tests/unit/test_architecture.py).
"""
