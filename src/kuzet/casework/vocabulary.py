"""Closed sets of casework: appointment outcomes, violation sources, legal steps, programme areas, partners.

Values are stored as text in the casework tables; translations are keyed ``outcome:<value>`` and so on.
"""

from __future__ import annotations

from enum import StrEnum


class AppointmentKind(StrEnum):
    OFFICE_REPORT = "office_report"
    HOME_VISIT = "home_visit"
    PROGRAMME = "programme"


class AppointmentOutcome(StrEnum):
    """How an appointment closed (DOMAIN.md section 9: a closed set)."""

    ATTENDED_COMPLIED = "attended_complied"
    ATTENDED_FAILED_TO_COMPLY = "attended_failed_to_comply"
    ACCEPTABLE_ABSENCE = "acceptable_absence"
    UNACCEPTABLE_ABSENCE = "unacceptable_absence"
    FAILED_TO_ATTEND = "failed_to_attend"

    @property
    def is_breach(self) -> bool:
        """Whether this outcome is itself a violation of the obligation to report."""
        return self in (AppointmentOutcome.ATTENDED_FAILED_TO_COMPLY, AppointmentOutcome.UNACCEPTABLE_ABSENCE,
                        AppointmentOutcome.FAILED_TO_ATTEND)


class AbsenceReason(StrEnum):
    """Reasons that make an absence acceptable (with evidence)."""

    COURT = "court"
    EMPLOYMENT = "employment"
    MEDICAL = "medical"
    FAMILY_EMERGENCY = "family_emergency"
    RELIGIOUS = "religious"
    OTHER = "other"


class ViolationSource(StrEnum):
    ALERT = "alert"
    APPOINTMENT = "appointment"
    OFFICER = "officer"


class ViolationStatus(StrEnum):
    OPEN = "open"
    WARNED = "warned"
    SUBMITTED = "submitted"
    DECIDED = "decided"
    EXCUSED = "excused"


class SubmissionKind(StrEnum):
    """What the probation service asks the court."""

    REPLACE_SENTENCE = "replace_sentence"  # with real imprisonment (restricted freedom) / cancel suspension
    EXTEND_PROBATION = "extend_probation"
    ADD_OBLIGATIONS = "add_obligations"
    REVOKE_PAROLE = "revoke_parole"


class DecisionOutcome(StrEnum):
    GRANTED = "granted"
    REFUSED = "refused"
    EXTENDED = "extended"
    OBLIGATIONS_ADDED = "obligations_added"


class NeedArea(StrEnum):
    """The areas of the individual programme (decree No. 1131)."""

    EDUCATION = "education"
    EMPLOYMENT = "employment"
    MEDICAL = "medical"
    HOUSING = "housing"
    DOCUMENTS = "documents"
    PSYCHOLOGICAL = "psychological"
    LEGAL = "legal"


class GoalStatus(StrEnum):
    OPEN = "open"
    ACHIEVED = "achieved"
    NOT_ACHIEVED = "not_achieved"
    DROPPED = "dropped"


class PartnerKind(StrEnum):
    AKIMAT = "akimat"
    NGO = "ngo"


class ChangeKind(StrEnum):
    ADDRESS = "address"
    JOB = "job"


class EndReason(StrEnum):
    EXPIRY = "expiry"
    EARLY_RELEASE = "early_release"
    REVOCATION = "revocation"


class Variation(StrEnum):
    """What a new version of a court order changes."""

    INITIAL = "initial"
    NEW_ADDRESS = "new_address"
    ZONE_ADDED = "zone_added"
    CURFEW_CHANGED = "curfew_changed"
    DEVICE_CHANGE = "device_change"
    OBLIGATIONS_CHANGED = "obligations_changed"
    EXTENSION = "extension"
    REVOCATION = "revocation"
    EARLY_RELEASE = "early_release"
    EXPIRY = "expiry"


#: Device status set when supervision ends and the device is taken back.
DEVICE_RECOVERED = "recovered"
