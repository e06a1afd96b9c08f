"""The SUNSKY sandbox: an HTTP server speaking SUNSKY's Open API, plus test/demo controls.

Protocol (sunsky-open-api.md; module docstrings say where the sandbox invents):
``POST|GET /openapi/<module>!<action>.do`` with form or query parameters, signed with
``shared.sunsky.signing``. Actions: ``order!getCountries.do``, ``order!getPricesAndFreights.do``,
``order!createOrder.do``, ``order!getOrderDetails.do``, ``order!getOrderList.do``,
``order!getBalance.do``, ``order!getBillList.do``, ``product!search.do``, ``product!detail.do``.

Controls (JSON, no signature), errors ``{"error": "..."}`` with 400/404/409:

- ``GET /_sandbox/health`` -> ``{"status": "ok"}``
- ``POST /_sandbox/reset`` -> ``{"status": "reset"}`` (orders, stock, bills, request log,
  faults, callback URL and deliveries, balance; de-duplication back to the configured default)
- ``GET /_sandbox/balance`` -> ``{"balance": "10000.0000"}``;
  ``POST /_sandbox/balance`` ``{"add": "100.00"}`` or ``{"set": "50.00"}`` -> same shape
- ``GET /_sandbox/orders`` -> ``{"orders": [order]}`` (oldest first, getOrderDetails shape);
  ``GET /_sandbox/orders/{number}`` -> ``{"order": order}``
- ``POST /_sandbox/orders/{number}/advance`` ``{"to": "paid"|"shipped"|"delivered"|"cancelled",
  "tracking_number"?, "reason"?}`` -> ``{"order": order}``
- ``POST /_sandbox/orders/{number}/tracking`` ``{"tracking_number": "..."}`` -> ``{"order": order}``
- ``GET|POST|DELETE /_sandbox/callbacks`` (POST ``{"url", "retry_seconds"?}``) ->
  ``{"url", "retry_seconds"}``; ``GET /_sandbox/callbacks/deliveries`` -> ``[{"event", "number",
  "status_code", "at", "error"}]``
- ``GET /_sandbox/requests?path=order!createOrder.do`` -> ``{"requests": [{"path", "params",
  "at", "outcome", "messages"}]}``
- ``GET /_sandbox/dedupe`` -> ``{"dedupe": true}``; ``POST /_sandbox/dedupe``
  ``{"dedupe": false}`` -> same shape: off, a reused ``siteNumber`` creates a second order (the
  worst-case SUNSKY) instead of the ``已下单`` refusal; ``dropship sandbox --no-dedupe`` starts
  that way
- ``GET|POST /_sandbox/catalogue`` ``{"prices": {"S-CAB-0042": "9.00"}, "withdrawn_ways":
  [25]}`` -> same shape: SUNSKY's prices changed and shipping ways withdrawn (quotes no longer
  offer them, createOrder refuses them with ``SHIPPING_WAY_NOT_AVAILABLE``) until the next reset
- ``GET|POST|DELETE /_sandbox/faults`` -> the fault settings (``faults.FaultSettings``)
"""

from __future__ import annotations

from sandbox.app import create_app
from sandbox.catalogue import CATALOGUE, COUNTRIES
from sandbox.config import SandboxConfig
from sandbox.runner import RunningSandbox, running_sandbox, serve

__all__ = [
    "CATALOGUE",
    "COUNTRIES",
    "RunningSandbox",
    "SandboxConfig",
    "create_app",
    "running_sandbox",
    "serve",
]
