"""The admin use cases: plain async functions with typed inputs and results.

Every admin surface calls these and nothing else: the ``dropship`` CLI today, the admin HTTP API
and console next. A surface parses its input, calls one function, and presents the result; no
business rule lives in a surface. Each function takes an ``AdminContext`` (the unit of work, the
SUNSKY port, the outbox flush) and an ``actor`` naming who acts, recorded in the order history
and the replay audit.

Layers (enforced by tests/unit/test_architecture.py): admin surfaces -> ``application`` ->
services' shared steps and the domain (``shared.lifecycle``, ``shared.domain``) -> adapters.

======================  =========================================================
``orders``              list, details, place, retry, edit the address
``tracking``            "Refresh from Sunsky"
``replay``              replay ``order.api_failed`` or a dead-letter topic
``outbox``              parked outgoing messages: list them, re-send them
``shop``                settings (auto-place, shipping-way policy), SUNSKY balance
``context``             ``AdminContext`` and ``admin_context(settings)``
======================  =========================================================
"""
