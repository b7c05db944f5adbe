"""Data built for the dashboard tests: every figure the tests assert is counted by hand from this."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from kuzet.alerts.models import ResponseTarget
from kuzet.auth.service import create_user, issue_api_token
from kuzet.casework.models import (
    CourtDecision,
    CourtSubmission,
    JobPlacement,
    JobQuota,
    Partner,
    ProgrammeGoal,
    SupervisionEnd,
    Vacancy,
    Violation,
    WrittenWarning,
)
from kuzet.devices.models import LeaseContract, LeasedDevice
from kuzet.domain.enums import Role
from kuzet.store.models import AlertRecord, Assignment, CourtOrder, Device, DeviceType, Person, Region, Unit

END = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)
START = END - timedelta(days=30)
PASSWORD = "correct horse battery"


@dataclass
class ReportWorld:
    regions: dict[str, int] = field(default_factory=dict)
    units: dict[str, int] = field(default_factory=dict)
    people: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    alerts: list[int] = field(default_factory=list)

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}


# code: (region, unit, category, fitted days before END or None, removed days before END or None)
PEOPLE = {
    "R1-a": ("R1", "U1", "restricted_freedom", 10, None),
    "R1-b": ("R1", "U1", "restricted_freedom", 10, 5),
    "R1-c": ("R1", "U1", "restricted_freedom", None, None),
    "R1-d": ("R1", "U1", "parole", 10, None),
    "R1-e": ("R1", "U1", "parole", None, None),
    "R1-f": ("R1", "U2", "suspended_sentence", 10, None),
    **{f"R2-{i}": ("R2", "V1", "parole", 20, None) for i in range(6)},
}
LEASED = {"R1-a", "R1-d"}  # at 500 KZT a day; the other R1 devices cost the 450 KZT default


def build(factory: sessionmaker[Session]) -> ReportWorld:
    w = ReportWorld()
    with factory() as s, s.begin():
        for code in ("R1", "R2"):
            region = Region(code=code, name=f"Region {code}")
            s.add(region)
            s.flush()
            w.regions[code] = region.id
        for code, region in (("U1", "R1"), ("U2", "R1"), ("V1", "R2")):
            unit = Unit(region_id=w.regions[region], code=code, name=f"Unit {code}")
            s.add(unit)
            s.flush()
            w.units[code] = unit.id
        users = {"sup_u1": (Role.SUPERVISOR, "R1", "U1"), "op_r1": (Role.OPERATOR, "R1", None),
                 "officer_u1": (Role.OFFICER, "R1", "U1"), "officer_u2": (Role.OFFICER, "R1", "U2"),
                 "officer_v1": (Role.OFFICER, "R2", "V1"), "analyst": (Role.ANALYST, None, None),
                 "admin": (Role.ADMINISTRATOR, None, None), "partner": (Role.PARTNER, None, None)}
        officers: dict[str, int] = {}
        for name, (role, region, unit) in users.items():
            user = create_user(s, name, PASSWORD, role, region_id=w.regions.get(region or ""),
                               unit_id=w.units.get(unit or ""), partner_id=1 if role is Role.PARTNER else None,
                               locale="en")
            w.tokens[name] = issue_api_token(s, user, name="tests")
            if role is Role.OFFICER:
                officers[unit or ""] = user.id
        dtype = DeviceType(code="rpt_bracelet", name_ru="б", name_kk="б", name_en="b", procedure={})
        s.add(dtype)
        s.flush()
        contract = LeaseContract(reference="L-1", supplier="Supplier", daily_rate_tiyn=50_000,
                                 start_date=date(2026, 1, 1))
        s.add(contract)
        s.flush()
        for code, (region, unit, category, fitted, removed) in PEOPLE.items():
            person = Person(code=code, category=category, region_id=w.regions[region], unit_id=w.units[unit],
                            officer_id=officers[unit], created_at=END - timedelta(days=60), extra={})
            s.add(person)
            s.flush()
            w.people[code] = person.id
            s.add(CourtOrder(person_id=person.id, category=category, effective_from=END - timedelta(days=60)))
            if fitted is not None:
                device = Device(serial=f"D-{code}", type_id=dtype.id, status="fitted")
                s.add(device)
                s.flush()
                s.add(Assignment(device_id=device.id, person_id=person.id, fitted_at=END - timedelta(days=fitted),
                                 removed_at=None if removed is None else END - timedelta(days=removed)))
                if code in LEASED:
                    s.add(LeasedDevice(contract_id=contract.id, device_id=device.id))
        s.add_all([ResponseTarget(region_id=None, severity="critical", acknowledge_within_s=300),
                   ResponseTarget(region_id=None, severity="high", acknowledge_within_s=900),
                   ResponseTarget(region_id=w.regions["R1"], severity="critical", acknowledge_within_s=600)])
        t = END - timedelta(days=3)
        # R1: 7 alerts. critical acknowledged after 5 and 12 min (R1 target 10 min: one within);
        # high after 10 min (within 15), one high never acknowledged.
        alerts = [
            ("R1-a", "strap_tamper", "critical", 5, "violation_confirmed"),
            ("R1-a", "exclusion_entry", "critical", 12, "false_alarm"),
            ("R1-d", "curfew_absence", "high", 10, "violation_confirmed"),
            ("R1-d", "curfew_absence", "high", None, None),
            ("R1-f", "battery_critical", "medium", 30, "technical_fault"),
            ("R1-f", "battery_critical", "medium", 45, "technical_fault"),
            ("R1-b", "communication_loss", "high", 20, "authorised"),
            ("R2-0", "curfew_absence", "high", 3, "violation_confirmed"),
        ]
        for i, (code, atype, severity, ack, outcome) in enumerate(alerts):
            raised = t + timedelta(hours=i)
            s.add(AlertRecord(person_id=w.people[code], subject_code=code, region_id=w.regions[PEOPLE[code][0]],
                              type=atype, target_key=str(i), start=raised - timedelta(minutes=5), raised_at=raised,
                              severity=severity,
                              acknowledged_at=None if ack is None else raised + timedelta(minutes=ack),
                              outcome=outcome, status="closed" if outcome else "new"))
            s.flush()
            w.alerts.append(s.query(AlertRecord.id).order_by(AlertRecord.id.desc()).limit(1).scalar())
        # An alert before the period: never counted.
        s.add(AlertRecord(person_id=w.people["R1-a"], subject_code="R1-a", region_id=w.regions["R1"],
                          type="strap_tamper", target_key="old", start=START - timedelta(days=2),
                          raised_at=START - timedelta(days=2), severity="critical"))
        s.flush()
        v1 = Violation(person_id=w.people["R1-a"], source="alert", kind="strap_tamper", breach_at=t,
                       identified_at=t)
        v2 = Violation(person_id=w.people["R1-d"], source="alert", kind="curfew_absence", breach_at=t,
                       identified_at=t)
        v_other = Violation(person_id=w.people["R2-0"], source="alert", kind="curfew_absence", breach_at=t,
                            identified_at=t)
        s.add_all([v1, v2, v_other])
        s.flush()
        s.add(WrittenWarning(person_id=w.people["R1-a"], violation_id=v1.id, number="W-1", issued_at=t))
        s.add(WrittenWarning(person_id=w.people["R1-d"], violation_id=v2.id, number="W-2", issued_at=t))
        sub = CourtSubmission(person_id=w.people["R1-a"], violation_id=v1.id, number="CS-1", kind="replace_sentence",
                              created_at=t, status="decided")
        s.add(sub)
        s.flush()
        s.add(CourtDecision(submission_id=sub.id, person_id=w.people["R1-a"], decided_on=(t + timedelta(days=1)).date(),
                            outcome="granted"))
        order = s.query(CourtOrder).filter_by(person_id=w.people["R1-b"]).one()
        s.add(SupervisionEnd(person_id=w.people["R1-b"], reason="revocation", ended_at=END - timedelta(days=5),
                             order_id=order.id))
        akimat = Partner(kind="akimat", name="Akimat R1", region_id=w.regions["R1"])
        s.add(akimat)
        s.flush()
        quota = JobQuota(partner_id=akimat.id, year=2026, reserved=12)
        s.add(quota)
        s.flush()
        for i, code in enumerate(("R1-c", "R1-e")):
            vacancy = Vacancy(quota_id=quota.id, employer="Employer", title=f"Job {i}", status="filled")
            s.add(vacancy)
            s.flush()
            s.add(JobPlacement(vacancy_id=vacancy.id, person_id=w.people[code], starts_on=date(2026, 11, 1)))
        s.add_all([ProgrammeGoal(person_id=w.people["R1-c"], area="employment", text="find a job", status="achieved"),
                   ProgrammeGoal(person_id=w.people["R1-e"], area="employment", text="find a job", status="achieved"),
                   ProgrammeGoal(person_id=w.people["R1-a"], area="documents", text="identity card", status="open")])
    return w
