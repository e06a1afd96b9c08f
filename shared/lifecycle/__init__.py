"""Lifecycle steps more than one caller performs, each in the caller's unit of work.

``requeue``: send an order (back) to the placer, the one way every retry, sweep, replay and
manual placement does it. ``tracking``: apply what SUNSKY says about a placed order, the one
code path of the tracker service and the admin's "Refresh from Sunsky". Services and the admin
application layer call these; nothing here imports a service.
"""
