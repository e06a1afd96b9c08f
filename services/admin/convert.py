"""Application results to API models, field by field (so nothing else leaks into answers)."""

from __future__ import annotations

from application.billing import Billing
from application.bulk import BulkResult
from application.details import allowed_actions, badges
from application.failures import FailureSummary
from application.health import Health
from application.orders import OrderDetails
from application.replay import ReplayOutcome
from application.shop import ShopSettings
from services.admin import models as m
from shared.db.admin import ReplayAudit, StatusCounts
from shared.domain.order import Order, StatusChange
from shared.domain.retry import waits_for_person
from shared.sunsky.models import STATUS_NAMES

AUTO_PLACE_NOTE = ("Auto-Place Orders on Payment applies to invoices paid from now on; orders "
                   "already Ready to Place wait for Place to Sunsky.")


def summary(o: Order) -> m.OrderSummaryOut:
    assert o.id is not None
    return m.OrderSummaryOut(
        id=o.id, invoice_id=o.invoice_id, invoice_number=o.invoice_number, status=o.status.value,
        status_label=o.status.label, needs_action=waits_for_person(o), created_at=o.created_at,
        client_id=o.client_id, customer=o.customer_company or o.contact_name, total=o.total,
        currency=o.currency, sunsky_order_number=o.sunsky.number if o.sunsky else None,
        tracking_number=o.shipping.tracking_number,
        last_error_code=o.last_error.code if o.last_error else None)


def counts(c: StatusCounts) -> m.CountsOut:
    return m.CountsOut(all=c.total, needs_action=c.needs_action,
                       by_status={s.value: n for s, n in c.by_status.items()})


def order(details: OrderDetails) -> m.OrderOut:
    o, s, e = details.order, details.order.shipping, details.order.last_error
    b, allowed = badges(o), allowed_actions(o)
    return m.OrderOut(
        **summary(o).model_dump(), site_number=o.site_number, contact_name=o.contact_name,
        contact_email=o.contact_email, customer_company=o.customer_company, subtotal=o.subtotal,
        attempts=o.attempts, auto_retries=o.auto_retries, next_attempt_at=o.next_attempt_at,
        paid_at=o.paid_at, placed_at=o.placed_at,
        items=[m.ItemOut(line_no=i.line_no, product_name=i.product_name, sku=i.sku,
                         quantity=i.quantity, unit_price=i.unit_price, line_total=i.line_total)
               for i in o.items],
        shipping=m.ShippingOut(
            recipient=s.recipient, phone=s.phone, email=s.email, company=s.company,
            address_line1=s.address_line1, address_line2=s.address_line2, city=s.city,
            state=s.state, postcode=s.postcode, country_iso2=s.country_iso2,
            country_name=s.country_name, full_address=s.full_address(),
            shipping_method=s.shipping_method, tracking_number=s.tracking_number,
            tracking_url=s.tracking_url),
        sunsky=m.SunskyOut(
            number=o.sunsky.number, status=o.sunsky.status,
            status_name=STATUS_NAMES.get(o.sunsky.status or 0, "unknown"),
            amount=o.sunsky.amount, shipping_cost=o.sunsky.shipping_cost, total=o.sunsky.total,
            last_synced_at=details.synced_at) if o.sunsky else None,
        last_error=m.LastErrorOut(code=e.code, kind=e.kind, message=e.message,
                                  fix_hint=e.fix_hint, at=e.at) if e else None,
        timeline=[change(c) for c in details.history],
        badges={name: m.BadgeOut(label=badge.label, tone=badge.tone) for name, badge in
                (("invoice", b.invoice), ("sunsky", b.sunsky), ("shipping", b.shipping))},
        actions=m.ActionsOut(place=allowed.place, retry=allowed.retry, refresh=allowed.refresh,
                             edit_address=allowed.edit_address))


def change(c: StatusChange) -> m.ChangeOut:
    return m.ChangeOut(from_status=c.from_status.value if c.from_status else None,
                       to_status=c.to_status.value,
                       from_label=c.from_status.label if c.from_status else "(new)",
                       to_label=c.to_status.label, reason=c.reason, actor=c.actor, at=c.at)


def action(order_id: int, outcome: str, message: str,
           details: OrderDetails | None) -> m.ActionOut:
    return m.ActionOut(order_id=order_id, outcome=outcome, message=message,
                       order=order(details) if details else None)


def bulk_result(r: BulkResult) -> m.BulkResultOut:
    return m.BulkResultOut(order_id=r.order_id, ok=r.ok, outcome=r.outcome, message=r.message,
                           status=r.status)


def settings(s: ShopSettings) -> m.SettingsOut:
    return m.SettingsOut(auto_place=s.auto_place, shipping_way_policy=s.shipping_way_policy,
                         note=AUTO_PLACE_NOTE)


def billing(b: Billing) -> m.BillingOut:
    return m.BillingOut(
        balance=b.balance, sunsky_error=b.sunsky_error, waiting_orders=b.waiting.orders,
        waiting_amount=b.waiting.amount, top_up=b.top_up, hint=b.hint,
        bills=[m.BillOut(amount=x.amount, balance=x.balance, at=x.gmt_created, type=x.tx_type)
               for x in b.bills])


def failure(f: FailureSummary) -> m.FailureGroupOut:
    return m.FailureGroupOut(code=f.code, kind=f.kind, count=f.count, fix_hint=f.fix_hint)


def replay(outcome: ReplayOutcome, dry_run: bool) -> m.ReplayOut:
    r = outcome.report
    return m.ReplayOut(replay_id=outcome.replay_id, dry_run=dry_run, read=r.read,
                       replayed=r.replayed, skipped=sum(r.skipped.values()),
                       skipped_by_reason=dict(r.skipped), refused=r.refused,
                       summary=r.summary())


def audit(a: ReplayAudit) -> m.ReplayAuditOut:
    r = a.record
    return m.ReplayAuditOut(id=a.id, at=a.at, actor=r.actor, topic=r.topic, target=r.target,
                            since=r.since, until=r.until, dry_run=r.dry_run, read=r.read,
                            replayed=r.replayed, skipped=r.skipped, refused=r.refused)


def health(h: Health) -> m.HealthOut:
    return m.HealthOut(
        services=[m.ServiceOut(service=s.service, alive=s.alive, last_beat=s.last_beat,
                               processes=[m.ProcessOut(instance=p.instance,
                                                       started_at=p.started_at,
                                                       beat_at=p.beat_at) for p in s.processes])
                  for s in h.services],
        outbox=m.OutboxOut(pending=h.outbox.pending, oldest_at=h.outbox.oldest_at,
                          parked=h.outbox.parked)
        if h.outbox else None,
        database_error=h.database_error, dead_letters=h.dead_letters,
        broker_error=h.broker_error)
