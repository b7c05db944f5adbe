"""Versioned court orders: the initial order, every variation as a new version, and the version in force.

An alert is always explained by the version in force when it happened: :func:`order_in_force`. A version is
never edited after it is written; a variation copies the latest version, applies its changes and gets the
next number. Versions take effect in order: a variation may not take effect before the version it follows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kuzet.audit import Actor, record
from kuzet.domain.enums import Category
from kuzet.store.models import CourtOrder, Person

from .errors import CaseworkError, NoOrderInForce
from .vocabulary import Variation

#: Fields of an order a variation may change.
VARIABLE_FIELDS = ("court", "case_number", "article", "start_date", "end_date", "conditions", "obligations",
                   "status")


@dataclass(frozen=True, slots=True)
class OrderTerms:
    """What the court ordered: the first version of the order."""

    category: str
    court: str = ""
    case_number: str = ""
    article: str = ""
    start_date: date | None = None
    end_date: date | None = None
    conditions: tuple[str, ...] = ()
    obligations: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


def _aware(at: datetime, name: str) -> datetime:
    if at.tzinfo is None:
        raise CaseworkError("must carry a time zone", field=name)
    return at.astimezone(UTC)


def versions(session: Session, person_id: int) -> Sequence[CourtOrder]:
    return session.execute(select(CourtOrder).where(CourtOrder.person_id == person_id)
                           .order_by(CourtOrder.version)).scalars().all()


def latest_version(session: Session, person_id: int) -> CourtOrder | None:
    return session.execute(select(CourtOrder).where(CourtOrder.person_id == person_id)
                           .order_by(CourtOrder.version.desc()).limit(1)).scalar_one_or_none()


def order_in_force(session: Session, person_id: int, at: datetime) -> CourtOrder:
    """The version of the person's order in force at ``at``: the latest version effective at or before it.

    Raises :class:`NoOrderInForce` when the first version takes effect after ``at`` or there is no order.
    """
    at = _aware(at, "at")
    order = session.execute(
        select(CourtOrder).where(CourtOrder.person_id == person_id, CourtOrder.effective_from <= at)
        .order_by(CourtOrder.effective_from.desc(), CourtOrder.version.desc()).limit(1)
    ).scalar_one_or_none()
    if order is None:
        raise NoOrderInForce(f"person {person_id} had no court order in force at {at.isoformat()}")
    return order


def _check_terms(terms: OrderTerms) -> None:
    try:
        Category(terms.category)
    except ValueError:
        raise CaseworkError(f"unknown category {terms.category!r} (restricted_freedom, suspended_sentence or "
                            "parole)", field="category") from None
    if terms.start_date and terms.end_date and terms.end_date < terms.start_date:
        raise CaseworkError(f"the order ends ({terms.end_date}) before it starts ({terms.start_date})",
                            field="end_date")


def record_initial_order(session: Session, actor: Actor, person: Person, terms: OrderTerms, *,
                         effective_from: datetime) -> CourtOrder:
    """Version 1 of the person's order (refused when the person already has an order)."""
    _check_terms(terms)
    if latest_version(session, person.id) is not None:
        raise CaseworkError(f"person {person.code} already has an order; record a variation instead",
                            field="order")
    order = CourtOrder(person_id=person.id, version=1, category=terms.category, court=terms.court,
                       case_number=terms.case_number, article=terms.article, start_date=terms.start_date,
                       end_date=terms.end_date, conditions=list(terms.conditions),
                       obligations=list(terms.obligations), variation=Variation.INITIAL.value,
                       effective_from=_aware(effective_from, "effective_from"), status="in_force",
                       created_by=actor.user_id)
    session.add(order)
    session.flush()
    record(session, actor, "create", "court_order", order.id, person_id=person.id, purpose="registration",
           detail={"version": 1, "variation": order.variation})
    return order


def vary_order(session: Session, actor: Actor, person_id: int, variation: Variation | str, *,
               effective_from: datetime, changes: dict[str, Any] | None = None) -> CourtOrder:
    """Write the next version of the person's order: the latest version with ``changes`` applied.

    ``changes`` may set any of :data:`VARIABLE_FIELDS`. The new version must not take effect before the
    version it follows.
    """
    try:
        kind = Variation(variation)
    except ValueError:
        raise CaseworkError(f"unknown variation {variation!r} ({', '.join(v.value for v in Variation)})",
                            field="variation") from None
    if kind is Variation.INITIAL:
        raise CaseworkError("the initial order is version 1; a variation changes something", field="variation")
    changes = dict(changes or {})
    unknown = set(changes) - set(VARIABLE_FIELDS)
    if unknown:
        raise CaseworkError(f"a variation cannot change {', '.join(sorted(unknown))}", field=sorted(unknown)[0])
    previous = latest_version(session, person_id)
    if previous is None:
        raise CaseworkError(f"person {person_id} has no order to vary", field="person_id")
    eff = _aware(effective_from, "effective_from")
    if eff < previous.effective_from:
        raise CaseworkError(f"version {previous.version + 1} cannot take effect ({eff.isoformat()}) before "
                            f"version {previous.version} ({previous.effective_from.isoformat()})",
                            field="effective_from")
    values = {name: getattr(previous, name) for name in VARIABLE_FIELDS}
    values["conditions"] = list(values["conditions"] or [])
    values["obligations"] = list(values["obligations"] or [])
    values.update(changes)
    if values["start_date"] and values["end_date"] and values["end_date"] < values["start_date"]:
        raise CaseworkError("the order would end before it starts", field="end_date")
    order = CourtOrder(person_id=person_id, version=previous.version + 1, category=previous.category,
                       variation=kind.value, effective_from=eff, created_by=actor.user_id, **values)
    session.add(order)
    session.flush()
    record(session, actor, "create", "court_order", order.id, person_id=person_id, purpose="order variation",
           detail={"version": order.version, "variation": kind.value, "changed": sorted(changes)})
    return order
