"""The admin use cases: plain async functions with typed inputs and results.

Every admin surface calls these and nothing else: the ``dropship`` CLI, the admin HTTP API and
the console (``services.admin``). A surface parses its input, calls one function, and presents
the result; no business rule lives in a surface. Each function takes an ``AdminContext`` (the
unit of work, the SUNSKY port, the outbox flush) and an ``actor`` naming who acts, recorded in
the order history and the replay audit.

Layers (enforced by tests/unit/test_architecture.py): admin surfaces -> ``application`` ->
services' shared steps and the domain (``shared.lifecycle``, ``shared.domain``) -> adapters.

======================  =========================================================
``orders``              list, details, place, retry, edit the address
``listing``             the Orders list's query object: pages, tab counts, CSV export
``details``             an order's state badges and which buttons it allows
``bulk``                Place / Retry / Refresh many orders, a result per order
``tracking``            "Refresh from Sunsky"
``replay``              replay ``order.api_failed`` or a dead-letter topic
``failures``            API Failed orders by code, the replay audit
``billing``             balance, bills, what waiting orders need, the top-up hint
``health``              heartbeats, outbox backlog, dead-letter counts
``outbox``              parked outgoing messages: list them, re-send them
``shop``                settings (auto-place, shipping-way policy), SUNSKY balance
``accounts``            admin users, API tokens, console sessions, roles
``idempotency``         ``Idempotency-Key`` answers
``context``             ``AdminContext`` and ``admin_context(settings)``
======================  =========================================================
"""
