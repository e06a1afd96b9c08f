from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.domain.order import (
    TRANSITIONS,
    IllegalTransition,
    Order,
    OrderStatus,
    ShippingInfo,
    new_order_history,
    transitions_table_markdown,
)

NOW = datetime(2026, 11, 27, tzinfo=UTC)
S = OrderStatus


def order(status: OrderStatus) -> Order:
    ship = ShippingInfo(*([None] * 11))
    return Order(id=1, invoice_id="42", invoice_number="INV-000042", status=status, items=(),
                 shipping=ship)


def test_exactly_the_nine_statuses_of_the_mission() -> None:
    labels = [s.label for s in OrderStatus]
    assert labels == ["Pending Payment", "Ready to Place", "Placing", "Placed", "Processing",
                      "Shipped", "Delivered", "Cancelled", "API Failed"]


# The lifecycle as the mission states it, written out here on purpose: comparing the code with
# TRANSITIONS itself could never fail. A change to the table must change this spec too.
SPEC: dict[OrderStatus | None, set[OrderStatus]] = {
    None: {S.PENDING_PAYMENT, S.READY_TO_PLACE, S.API_FAILED},
    S.PENDING_PAYMENT: {S.READY_TO_PLACE, S.CANCELLED, S.API_FAILED},
    S.READY_TO_PLACE: {S.PLACING, S.PLACED, S.CANCELLED, S.API_FAILED},
    S.PLACING: {S.READY_TO_PLACE, S.PLACED, S.API_FAILED},
    S.PLACED: {S.PROCESSING, S.SHIPPED, S.DELIVERED, S.CANCELLED},
    S.PROCESSING: {S.SHIPPED, S.DELIVERED, S.CANCELLED},
    S.SHIPPED: {S.DELIVERED, S.CANCELLED},
    S.DELIVERED: set(),
    S.CANCELLED: set(),
    S.API_FAILED: {S.READY_TO_PLACE, S.PLACING, S.PLACED, S.CANCELLED},
}


@pytest.mark.parametrize("source", list(OrderStatus))
@pytest.mark.parametrize("target", list(OrderStatus))
def test_transition_allows_exactly_the_specified_moves(source: OrderStatus,
                                                      target: OrderStatus) -> None:
    if target in SPEC[source]:
        moved = order(source).transition(target, reason="r", actor="test", now=NOW)
        assert moved.status == target
        assert moved.history[-1].from_status == source
    else:
        with pytest.raises(IllegalTransition):
            order(source).transition(target, reason="r", actor="test", now=NOW)


@pytest.mark.parametrize("status", list(OrderStatus))
def test_new_orders_start_only_where_the_spec_allows(status: OrderStatus) -> None:
    if status in SPEC[None]:
        assert new_order_history(order(status), reason="r", actor="t", now=NOW).history
    else:
        with pytest.raises(IllegalTransition):
            new_order_history(order(status), reason="r", actor="t", now=NOW)


def test_submitted_orders_can_never_go_back_to_placing() -> None:
    for status in (S.PLACED, S.PROCESSING, S.SHIPPED, S.DELIVERED, S.CANCELLED):
        assert S.PLACING not in TRANSITIONS[status]
        assert S.READY_TO_PLACE not in TRANSITIONS[status]


def test_docs_table_is_generated_from_the_transitions() -> None:
    table = transitions_table_markdown()
    assert "| Delivered | (final) |" in table
    assert table.count("\n") == len(TRANSITIONS) + 1
