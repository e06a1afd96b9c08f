"""Every message the system exchanges, defined once, frozen (STYLE.md point 1).

- ``schemas.perfex``: what Perfex publishes on ``invoice.created`` / ``invoice.paid`` (accepted
  exactly as ``perfex-event-contract.md`` describes it).
- ``schemas.orders``: what our services publish on ``order.*``.

``schemas/json/`` holds JSON Schema generated from these models (``python -m schemas.generate``);
a test fails when the two drift.
"""
