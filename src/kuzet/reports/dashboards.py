"""Dashboard figures per unit, region and country: caseload, alerts, response, enforcement, help, cost.

Every figure is a :class:`Table` computed here from the store, so the API, the UI, the CSV/XLSX downloads
and the tests all see the same numbers. Analysts get the same tables with small counts suppressed
(:func:`suppress_small_counts`), so that no person can be picked out of an aggregate.
This module reads; it never changes anything.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, true
from sqlalchemy.orm import Session

from kuzet.alerts.escalation import TargetBook
from kuzet.alerts.vocabulary import Outcome
from kuzet.casework.models import (
    CourtDecision,
    CourtSubmission,
    JobPlacement,
    JobQuota,
    Partner,
    ProbationExtension,
    ProgrammeGoal,
    SupervisionEnd,
    Vacancy,
    Violation,
    WrittenWarning,
)
from kuzet.devices.models import LeaseContract, LeasedDevice
from kuzet.domain.enums import AlertType, Category, Role, Severity
from kuzet.store.models import AlertRecord, Assignment, Person, Region, Unit, User

#: Counts from 1 to this value - 1 are hidden from analysts (a common threshold in official statistics).
SMALL_COUNT = 5
SUPPRESSED = "<5"


@dataclass(frozen=True, slots=True)
class Scope:
    """Which people a dashboard covers: the whole country, one region or one unit."""

    level: str  # "country" | "region" | "unit"
    id: int | None = None
    name: str = "Kazakhstan"

    def people(self) -> ColumnElement[bool]:
        if self.level == "region":
            return Person.region_id == self.id
        if self.level == "unit":
            return Person.unit_id == self.id
        return true()


class ScopeRefused(PermissionError):
    """The caller may not see this scope."""


def resolve_scope(session: Session, role: Role, region_id: int | None, unit_id: int | None,
                  level: str, scope_id: int | None) -> Scope:
    """The scope asked for, if the caller's role allows it (supervisors: their unit or region only)."""
    if level not in ("country", "region", "unit"):
        raise ValueError(f"unknown scope level {level!r} (country, region or unit)")
    if role is Role.ANALYST and level == "unit":
        raise ScopeRefused("analysts see regions and the country, never a single unit")
    if role in (Role.SUPERVISOR, Role.OPERATOR):
        if level == "country":
            raise ScopeRefused(f"a {role.value} sees their own region or unit only")
        if level == "region" and scope_id != region_id:
            raise ScopeRefused("another region")
        if level == "unit":
            unit = session.get(Unit, scope_id)
            if unit is None or unit.region_id != region_id or (unit_id is not None and unit.id != unit_id):
                raise ScopeRefused("another unit")
    elif role not in (Role.ADMINISTRATOR, Role.ANALYST):
        raise ScopeRefused(f"role {role.value} has no dashboards")
    if level == "country":
        return Scope("country")
    row = session.get(Region, scope_id) if level == "region" else session.get(Unit, scope_id)
    if row is None:
        raise LookupError(f"{level} {scope_id} not found")
    return Scope(level, row.id, row.name)


@dataclass(frozen=True, slots=True)
class Table:
    """One figure: a named table with its columns, rows and the notes a reader needs to trust it."""

    key: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    notes: tuple[str, ...] = ()
    suppressed: bool = False

    def as_dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


@dataclass(slots=True)
class Dashboard:
    scope: Scope
    start: datetime
    end: datetime
    tables: dict[str, Table] = field(default_factory=dict)


def _days(start: datetime, end: datetime) -> float:
    return max((end - start).total_seconds() / 86400.0, 1e-9)


def caseload(session: Session, scope: Scope, at: datetime) -> Table:
    """People supervised at ``at`` by category, and how many of them wear a device."""
    on_em = select(Assignment.person_id).where(Assignment.fitted_at <= at,
                                               or_(Assignment.removed_at.is_(None), Assignment.removed_at > at))
    ended = select(SupervisionEnd.person_id).where(SupervisionEnd.ended_at <= at)
    rows = []
    for category in Category:
        base = select(func.count()).select_from(Person).where(
            scope.people(), Person.category == category.value, Person.created_at <= at, Person.id.not_in(ended))
        total = session.execute(base).scalar_one()
        em = session.execute(base.where(Person.id.in_(on_em))).scalar_one()
        rows.append((category.value, total, em, total - em))
    rows.append(("total", sum(r[1] for r in rows), sum(r[2] for r in rows), sum(r[3] for r in rows)))
    return Table("caseload", "People supervised by category", ("category", "supervised", "on_em", "not_on_em"),
                 tuple(rows))


def wearer_days(session: Session, scope: Scope, start: datetime, end: datetime) -> float:
    """Sum over the scope's people of the days a device was fitted within ``[start, end)``."""
    total = 0.0
    for fitted, removed in session.execute(
            select(Assignment.fitted_at, Assignment.removed_at).join(Person, Person.id == Assignment.person_id)
            .where(scope.people(), Assignment.fitted_at < end,
                   or_(Assignment.removed_at.is_(None), Assignment.removed_at > start))):
        s = max(fitted, start)
        e = min(removed or end, end)
        total += max((e - s).total_seconds(), 0.0) / 86400.0
    return total


def alert_rates(session: Session, scope: Scope, start: datetime, end: datetime) -> Table:
    """Alerts raised in the period by type and outcome, and per wearer per day."""
    wd = wearer_days(session, scope, start, end)
    rows_raw = session.execute(
        select(AlertRecord.type, AlertRecord.outcome, func.count())
        .join(Person, Person.id == AlertRecord.person_id)
        .where(scope.people(), AlertRecord.raised_at >= start, AlertRecord.raised_at < end)
        .group_by(AlertRecord.type, AlertRecord.outcome)).all()
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for atype, outcome, n in rows_raw:
        counts[atype][outcome or "open"] += n
    outcomes = [o.value for o in Outcome] + ["open"]
    rows: list[tuple[Any, ...]] = []
    total_all = 0
    for atype in AlertType:
        c = counts.get(atype.value, Counter())
        total = sum(c.values())
        total_all += total
        rows.append((atype.value, total, round(total / wd, 3) if wd else None, *[c[o] for o in outcomes]))
    rows.append(("total", total_all, round(total_all / wd, 3) if wd else None,
                 *[sum(counts[t][o] for t in counts) for o in outcomes]))
    return Table("alerts", "Alerts by type and outcome", ("type", "alerts", "per_wearer_day", *outcomes),
                 tuple(rows), (f"wearer-days in the period: {wd:.1f}",))


def response_times(session: Session, scope: Scope, start: datetime, end: datetime) -> Table:
    """Acknowledgement times against the target of each alert's severity (regional target, else national)."""
    alerts = session.execute(
        select(AlertRecord.severity, AlertRecord.region_id, AlertRecord.raised_at, AlertRecord.acknowledged_at)
        .join(Person, Person.id == AlertRecord.person_id)
        .where(scope.people(), AlertRecord.raised_at >= start, AlertRecord.raised_at < end)).all()
    book = TargetBook(session)
    rows = []
    for severity in sorted(Severity, key=lambda s: -s.rank):
        mine = [a for a in alerts if a.severity == severity.value]
        acked = [(a.acknowledged_at - a.raised_at).total_seconds() / 60 for a in mine if a.acknowledged_at]
        within = sum(1 for a in mine if a.acknowledged_at is not None
                     and a.acknowledged_at - a.raised_at <= book.get(severity.value, a.region_id).acknowledge_within)
        scope_target = book.get(severity.value, scope.id if scope.level == "region" else None).acknowledge_within
        rows.append((severity.value, len(mine), len(acked),
                     round(statistics.median(acked), 1) if acked else None,
                     round(statistics.quantiles(acked, n=10)[-1], 1) if len(acked) >= 2 else
                     (round(acked[0], 1) if acked else None),
                     round(scope_target.total_seconds() / 60, 1),
                     round(100.0 * within / len(mine), 1) if mine else None))
    return Table("response", "Acknowledgement times against targets",
                 ("severity", "alerts", "acknowledged", "median_min", "p90_min", "target_min", "within_target_pct"),
                 tuple(rows), ("each alert is judged against its own region's target (else the national one, else "
                               "the built-in default); target_min is the scope's; an unacknowledged alert counts as "
                               "outside its target",))


def enforcement(session: Session, scope: Scope, start: datetime, end: datetime) -> Table:
    """Violations and the legal steps that followed, in the period."""
    people = select(Person.id).where(scope.people())

    def count(model: Any, column: Any) -> int:
        return int(session.execute(select(func.count()).select_from(model).where(
            model.person_id.in_(people), column >= start, column < end)).scalar_one())

    start_d, end_d = start.date(), end.date()
    decisions = session.execute(
        select(CourtDecision.outcome, func.count()).where(
            CourtDecision.person_id.in_(people), CourtDecision.decided_on >= start_d,
            CourtDecision.decided_on < end_d).group_by(CourtDecision.outcome)).all()
    revocations = int(session.execute(select(func.count()).select_from(SupervisionEnd).where(
        SupervisionEnd.person_id.in_(people), SupervisionEnd.reason == "revocation",
        SupervisionEnd.ended_at >= start, SupervisionEnd.ended_at < end)).scalar_one())
    rows = [
        ("violations", count(Violation, Violation.breach_at)),
        ("written_warnings", count(WrittenWarning, WrittenWarning.issued_at)),
        ("probation_extensions", count(ProbationExtension, ProbationExtension.created_at)),
        ("submissions_to_court", count(CourtSubmission, CourtSubmission.created_at)),
        *[(f"court_decisions_{outcome}", n) for outcome, n in sorted(decisions)],
        ("revocations", revocations),
    ]
    return Table("enforcement", "Violations, warnings, submissions and revocations", ("measure", "count"),
                 tuple(rows))


def assistance(session: Session, scope: Scope, year: int) -> Table:
    """Programme goals by area and status, and jobs found against the akimats' quotas for ``year``."""
    people = select(Person.id).where(scope.people())
    goals = session.execute(select(ProgrammeGoal.area, ProgrammeGoal.status, func.count())
                            .where(ProgrammeGoal.person_id.in_(people))
                            .group_by(ProgrammeGoal.area, ProgrammeGoal.status)).all()
    by_area: dict[str, Counter[str]] = defaultdict(Counter)
    for area, status, n in goals:
        by_area[area][status] += n
    statuses = ("open", "achieved", "not_achieved", "dropped")
    rows: list[tuple[Any, ...]] = [(f"goals:{area}", *[c[s] for s in statuses], None)
                                   for area, c in sorted(by_area.items())]
    partner_filter: ColumnElement[bool] = true()
    if scope.level == "region":
        partner_filter = Partner.region_id == scope.id
    elif scope.level == "unit":
        unit = session.get(Unit, scope.id)
        partner_filter = Partner.region_id == (unit.region_id if unit else None)
    reserved = session.execute(select(func.coalesce(func.sum(JobQuota.reserved), 0))
                               .join(Partner, Partner.id == JobQuota.partner_id)
                               .where(JobQuota.year == year, partner_filter)).scalar_one()
    placed = session.execute(
        select(func.count()).select_from(JobPlacement).join(Vacancy, Vacancy.id == JobPlacement.vacancy_id)
        .join(JobQuota, JobQuota.id == Vacancy.quota_id)
        .where(JobQuota.year == year, JobPlacement.person_id.in_(people))).scalar_one()
    rows.append(("jobs_against_quota", int(placed), None, None, None, int(reserved)))
    return Table("assistance", "Assistance programme outcomes and job quotas",
                 ("measure", *statuses, "quota_reserved"), tuple(rows),
                 ("jobs_against_quota: people placed in vacancies reserved under akimat quotas (open column)",))


@dataclass(frozen=True, slots=True)
class CostAssumptions:
    """What the cost comparison rests on; every figure is shown beside the result."""

    prison_cost_per_year_kzt: float = 580_000.0
    officer_cost_per_month_kzt: float = 350_000.0
    #: Share of an officer's time spent on electronic monitoring (the rest is casework either way).
    officer_em_share: float = 0.3
    #: Cost of a device-day where no lease contract covers the device.
    default_device_day_kzt: float = 450.0


def cost_effectiveness(session: Session, scope: Scope, start: datetime, end: datetime,
                       assumptions: CostAssumptions) -> Table:
    """Monitoring cost (device leases and officers' EM time) against imprisonment for the same person-days."""
    days = _days(start, end)
    rates: dict[int, float] = {}
    for device_id, rate_tiyn, c_start, c_end in session.execute(
            select(LeasedDevice.device_id, LeaseContract.daily_rate_tiyn, LeaseContract.start_date,
                   LeaseContract.end_date).join(LeaseContract, LeaseContract.id == LeasedDevice.contract_id)):
        if c_start <= end.date() and (c_end is None or c_end >= start.date()):
            rates[device_id] = rate_tiyn / 100.0
    lease = 0.0
    device_days = 0.0
    for device_id, fitted, removed in session.execute(
            select(Assignment.device_id, Assignment.fitted_at, Assignment.removed_at)
            .join(Person, Person.id == Assignment.person_id)
            .where(scope.people(), Assignment.fitted_at < end,
                   or_(Assignment.removed_at.is_(None), Assignment.removed_at > start))):
        d = max((min(removed or end, end) - max(fitted, start)).total_seconds(), 0.0) / 86400.0
        device_days += d
        lease += d * rates.get(device_id, assumptions.default_device_day_kzt)
    officer_filter: ColumnElement[bool] = User.role == Role.OFFICER.value
    if scope.level == "region":
        officer_filter = and_(officer_filter, User.region_id == scope.id)
    elif scope.level == "unit":
        officer_filter = and_(officer_filter, User.unit_id == scope.id)
    officers = int(session.execute(select(func.count()).select_from(User).where(officer_filter)).scalar_one())
    staff = officers * assumptions.officer_cost_per_month_kzt * (days / 30.4375) * assumptions.officer_em_share
    monitoring = lease + staff
    prison = device_days / 365.25 * assumptions.prison_cost_per_year_kzt
    per_year = monitoring / (device_days / 365.25) if device_days else None
    rows = (
        ("device_days", round(device_days, 1)),
        ("device_lease_kzt", round(lease)),
        ("officers", officers),
        ("officer_em_time_kzt", round(staff)),
        ("monitoring_cost_kzt", round(monitoring)),
        ("monitoring_cost_per_person_year_kzt", None if per_year is None else round(per_year)),
        ("prison_cost_same_period_kzt", round(prison)),
        ("saving_kzt", round(prison - monitoring)),
        ("prison_to_monitoring_ratio", round(prison / monitoring, 2) if monitoring else None),
    )
    notes = (
        f"prison: {assumptions.prison_cost_per_year_kzt:,.0f} KZT per prisoner per year (configurable)",
        f"officer: {assumptions.officer_cost_per_month_kzt:,.0f} KZT a month, "
        f"{assumptions.officer_em_share:.0%} of the time on electronic monitoring",
        f"device-day without a lease contract: {assumptions.default_device_day_kzt:,.0f} KZT",
        "each person-day on a device is counted as a prison day avoided",
    )
    return Table("cost", "Cost of monitoring against imprisonment", ("measure", "value"), rows, notes)


def build_dashboard(session: Session, scope: Scope, start: datetime, end: datetime, *,
                    assumptions: CostAssumptions | None = None) -> Dashboard:
    if start.tzinfo is None or end.tzinfo is None or end <= start:
        raise ValueError("a dashboard period needs aware start < end")
    dash = Dashboard(scope, start, end)
    for table in (caseload(session, scope, end), alert_rates(session, scope, start, end),
                  response_times(session, scope, start, end), enforcement(session, scope, start, end),
                  assistance(session, scope, end.astimezone(UTC).year),
                  cost_effectiveness(session, scope, start, end, assumptions or CostAssumptions())):
        dash.tables[table.key] = table
    return dash


#: Columns that hold counts of people or events (suppressed for analysts); others are rates, money, labels.
_COUNT_COLUMNS = frozenset({"supervised", "on_em", "not_on_em", "alerts", "acknowledged", "count", "open",
                            "achieved", "not_achieved", "dropped", *(o.value for o in Outcome)})


def suppress_small_counts(table: Table, threshold: int = SMALL_COUNT) -> Table:
    """Replace counts from 1 to ``threshold - 1`` with ``"<5"``; rates derived from them become ``None``.

    A zero is kept (it reveals no one), and so are totals of at least ``threshold``.
    """
    idx = [i for i, c in enumerate(table.columns) if c in _COUNT_COLUMNS]
    if table.key == "cost":
        return table
    rows = []
    for row in table.rows:
        values = list(row)
        hidden = False
        for i in idx:
            v = values[i]
            if isinstance(v, int) and 0 < v < threshold:
                values[i] = SUPPRESSED
                hidden = True
        if hidden:
            values = [None if (c.endswith(("_day", "_pct", "_min"))) else v for c, v in zip(table.columns, values,
                                                                                           strict=True)]
        rows.append(tuple(values))
    return replace(table, rows=tuple(rows), suppressed=True,
                   notes=(*table.notes, f"counts below {threshold} are shown as {SUPPRESSED}"))


def for_role(dash: Dashboard, role: Role) -> Dashboard:
    if role is not Role.ANALYST:
        return dash
    return Dashboard(dash.scope, dash.start, dash.end,
                     {k: suppress_small_counts(t) for k, t in dash.tables.items()})


def default_period(now: datetime, days: int = 30) -> tuple[datetime, datetime]:
    end = now.astimezone(UTC)
    return end - timedelta(days=days), end

