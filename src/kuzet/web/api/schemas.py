"""Request and response bodies of API v1. Validation of meaning (shapes, schedules, categories) is the
domain's (:mod:`kuzet.domain`); these models only fix the JSON shape and bounds."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kuzet.domain.enums import Category

ID_MAX = 2**31 - 1


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class PersonOut(Out):
    id: int
    code: str
    surname: str
    given_name: str
    patronymic: str
    birth_date: date | None
    category: str
    status: str
    region_id: int
    unit_id: int
    officer_id: int | None
    address: str
    phone: str
    home_lat: float | None
    home_lon: float | None
    timezone: str


class PersonCreate(Strict):
    code: str = Field(min_length=1, max_length=64)
    category: Category
    unit_id: int = Field(ge=1, le=ID_MAX)
    surname: str = Field(default="", max_length=100)
    given_name: str = Field(default="", max_length=100)
    patronymic: str = Field(default="", max_length=100)
    birth_date: date | None = None
    iin: str = Field(default="", max_length=12)
    phone: str = Field(default="", max_length=40)
    address: str = Field(default="", max_length=300)
    home_lat: float | None = Field(default=None, ge=-90, le=90)
    home_lon: float | None = Field(default=None, ge=-180, le=180)
    officer_id: int | None = Field(default=None, ge=1, le=ID_MAX)
    timezone: str = Field(default="Asia/Almaty", max_length=64)


class PersonUpdate(Strict):
    surname: str | None = Field(default=None, max_length=100)
    given_name: str | None = Field(default=None, max_length=100)
    patronymic: str | None = Field(default=None, max_length=100)
    birth_date: date | None = None
    iin: str | None = Field(default=None, max_length=12)
    phone: str | None = Field(default=None, max_length=40)
    address: str | None = Field(default=None, max_length=300)
    home_lat: float | None = Field(default=None, ge=-90, le=90)
    home_lon: float | None = Field(default=None, ge=-180, le=180)
    officer_id: int | None = Field(default=None, ge=1, le=ID_MAX)
    status: str | None = Field(default=None, max_length=32)


class OrderOut(Out):
    id: int
    person_id: int
    version: int
    category: str
    court: str
    case_number: str
    article: str
    start_date: date | None
    end_date: date | None
    conditions: list[Any]
    obligations: list[Any]
    variation: str
    effective_from: datetime
    status: str


class OrderCreate(Strict):
    category: Category
    variation: str = Field(default="initial", min_length=1, max_length=40)
    court: str = Field(default="", max_length=200)
    case_number: str = Field(default="", max_length=64)
    article: str = Field(default="", max_length=64)
    start_date: date | None = None
    end_date: date | None = None
    conditions: list[str] = Field(default_factory=list, max_length=50)
    obligations: list[str] = Field(default_factory=list, max_length=50)
    effective_from: datetime | None = None


class Window(Strict):
    days: list[str] = Field(min_length=1, max_length=7)
    start: str = Field(max_length=5, examples=["22:00"])
    end: str = Field(max_length=5, examples=["06:00"])


class ZoneOut(Out):
    id: int
    person_id: int
    code: str
    name: str
    kind: str
    shape: dict[str, Any]
    schedule: list[Any] | None
    timezone: str
    grace_s: float
    active: bool


class ZoneCreate(Strict):
    code: str = Field(min_length=1, max_length=64)
    name: str = Field(default="", max_length=200)
    kind: str = Field(examples=["inclusion", "exclusion"], max_length=16)
    shape: dict[str, Any] = Field(examples=[{"type": "Circle", "coordinates": [76.9, 43.25], "radius_m": 80}])
    schedule: list[Window] | None = None
    grace_s: float | None = Field(default=None, ge=0, le=86_400)


class ZoneUpdate(Strict):
    name: str = Field(default="", max_length=200)
    kind: str = Field(max_length=16)
    shape: dict[str, Any]
    schedule: list[Window] | None = None
    grace_s: float | None = Field(default=None, ge=0, le=86_400)


class ScheduleIn(Strict):
    schedule: list[Window] | None


class FixOut(Out):
    id: int
    device: str
    time: datetime
    lat: float
    lon: float
    accuracy_m: float | None
    source: str
    speed_kmh: float | None
    battery_pct: float | None


class LivePositionOut(Out):
    person_id: int
    code: str
    name: str
    fix: FixOut
    open_alerts: int


class AlertOut(Out):
    id: int
    person_id: int | None
    subject_code: str
    region_id: int | None
    device: str | None
    type: str
    target: str | None
    start: datetime
    end: datetime | None
    raised_at: datetime
    severity: str
    confidence: float
    late: bool
    status: str
    assignee_id: int | None
    acknowledged_at: datetime | None


class AcknowledgeIn(Strict):
    note: str = Field(default="", max_length=2000)


class DeviceOut(Out):
    id: int
    serial: str
    protocol: str
    status: str
    unit_id: int | None
    firmware: str


class AssignmentOut(Out):
    id: int
    device_id: int
    person_id: int
    fitted_at: datetime
    removed_at: datetime | None
    note: str


class AuditEntryOut(Out):
    id: int
    at: datetime
    user_id: int | None
    username: str
    role: str
    action: str
    object_type: str
    object_id: str
    subject_person_id: int | None
    purpose: str
    detail: dict[str, Any]
    hash: str


class AuditVerifyOut(BaseModel):
    ok: bool
    entries: int
    anchors: int
    problems: list[str]


class WhatIfIn(Strict):
    zone: ZoneCreate
    replaces_zone_id: int | None = Field(default=None, ge=1, le=ID_MAX)
    weeks: int = Field(default=3, ge=1, le=8)


class EpisodeOut(Out):
    type: str
    target: str | None
    start: datetime
    end: datetime | None
    severity: str


class WhatIfOut(Out):
    engine: str
    since: datetime
    until: datetime
    fixes: int
    current: list[EpisodeOut]
    edited: list[EpisodeOut]
