"""One running sandbox's parts, shared by the protocol and control routes.

``Sandbox`` ties the pure state to the side effects: the clock, fault injection and callback
delivery. The auto-advance loop (``SandboxConfig.auto_advance_seconds``, for ``dropship dev``) is a
sandbox invention that stands in for SUNSKY's warehouse.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiohttp import web

from sandbox.callbacks import CallbackDispatcher
from sandbox.config import SandboxConfig
from sandbox.faults import FaultInjector
from sandbox.orders import EVENT_TRACKING, Order, OrderStatus
from sandbox.state import SandboxState

logger = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Sandbox:
    config: SandboxConfig
    state: SandboxState
    callbacks: CallbackDispatcher
    faults: FaultInjector = field(default_factory=FaultInjector)
    clock: Callable[[], datetime] = utcnow

    @classmethod
    def build(cls, config: SandboxConfig) -> Sandbox:
        state = SandboxState(config.initial_balance, config.duplicate_site_number_message,
                             dedupe=config.dedupe)
        callbacks = CallbackDispatcher(config.callback_retry_seconds, config.callback_url)
        return cls(config, state, callbacks)

    def advance(self, number: str, target: OrderStatus, *, tracking_number: str | None = None,
                reason: str | None = None) -> Order:
        order, event = self.state.advance(number, target, self.clock(),
                                          tracking_number=tracking_number, reason=reason)
        logger.info("order %s moved to %s", number, target.name.lower())
        if event is not None:
            self.callbacks.fire(event, order.wire())
        return order

    def set_tracking(self, number: str, tracking_number: str) -> Order:
        order = self.state.set_tracking(number, tracking_number)
        self.callbacks.fire(EVENT_TRACKING, order.wire())
        return order

    async def reset(self) -> None:
        self.state.reset()
        self.faults.clear()
        await self.callbacks.reset()


SANDBOX = web.AppKey("sandbox", Sandbox)


async def auto_advance(sandbox: Sandbox, step_seconds: float) -> None:
    """Every paid order ships after ``step_seconds``, and is delivered ``step_seconds`` later."""
    tick = max(min(step_seconds / 4, 1.0), 0.01)
    while True:
        await asyncio.sleep(tick)
        for number, target in sandbox.state.due_steps(sandbox.clock(), step_seconds):
            sandbox.advance(number, target)
