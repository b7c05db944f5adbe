"""Closed sets of the domain, in its own words."""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    """The three penal categories that may be placed under electronic monitoring."""

    RESTRICTED_FREEDOM = "restricted_freedom"
    SUSPENDED_SENTENCE = "suspended_sentence"
    PAROLE = "parole"


class Role(StrEnum):
    """User roles (DOMAIN.md section 8)."""

    OPERATOR = "operator"
    OFFICER = "officer"
    SUPERVISOR = "supervisor"
    ADMINISTRATOR = "administrator"
    AUDITOR = "auditor"
    PARTNER = "partner"
    ANALYST = "analyst"
    POLICE_LIAISON = "police_liaison"


class ZoneKind(StrEnum):
    INCLUSION = "inclusion"
    EXCLUSION = "exclusion"


class Source(StrEnum):
    """Where a fix came from."""

    GPS = "gps"
    CELL = "cell"
    WIFI = "wifi"
    BEACON = "beacon"
    NONE = "none"


class Closure(StrEnum):
    CLOSED = "closed"
    OPEN = "open"


class DeviceEvent(StrEnum):
    """Events a device can report. The first ten are the exchange format's; the rest are gateway extras."""

    STRAP_OPEN = "strap_open"
    STRAP_CLOSED = "strap_closed"
    CASE_OPEN = "case_open"
    CASE_CLOSED = "case_closed"
    JAMMING = "jamming"
    BATTERY_LOW = "battery_low"
    POWER_OFF = "power_off"
    POWER_ON = "power_on"
    CHARGING_START = "charging_start"
    CHARGING_STOP = "charging_stop"
    SOS = "sos"
    POWER_CUT = "power_cut"
    SHOCK = "shock"
    OVERSPEED = "overspeed"


class AlertType(StrEnum):
    CURFEW_ABSENCE = "curfew_absence"
    EXCLUSION_ENTRY = "exclusion_entry"
    PROXIMITY = "proximity"
    STRAP_TAMPER = "strap_tamper"
    CASE_TAMPER = "case_tamper"
    BATTERY_CRITICAL = "battery_critical"
    COMMUNICATION_LOSS = "communication_loss"
    LOCATION_LOSS = "location_loss"


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.LOW: 0, Severity.MEDIUM: 1, Severity.HIGH: 2, Severity.CRITICAL: 3}

#: Default severity of each alert type; a zone or rule may override it.
DEFAULT_SEVERITY: dict[AlertType, Severity] = {
    AlertType.CURFEW_ABSENCE: Severity.HIGH,
    AlertType.EXCLUSION_ENTRY: Severity.CRITICAL,
    AlertType.PROXIMITY: Severity.CRITICAL,
    AlertType.STRAP_TAMPER: Severity.CRITICAL,
    AlertType.CASE_TAMPER: Severity.HIGH,
    AlertType.BATTERY_CRITICAL: Severity.MEDIUM,
    AlertType.COMMUNICATION_LOSS: Severity.HIGH,
    AlertType.LOCATION_LOSS: Severity.MEDIUM,
}
