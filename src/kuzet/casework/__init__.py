"""Casework: supervision, obligations, violations and the legal steps after them, courts, and the individual
programme of social and legal assistance with its partners (issue 8; DOMAIN.md sections 1, 2 and 9).

The names below are the stable entry points other capabilities call (the alert workflow calls
``record_violation_from_alert``, ``issue_written_warning``, ``extend_probation``, ``submit_to_court`` and
``record_court_decision``). Services take the acting :class:`kuzet.audit.Actor`; the API, pages and CLI check
the caller's scope first with :mod:`kuzet.casework.queries`. This package never reads or returns locations.
"""

from .ending import end_expired_orders, end_supervision, recover_devices
from .enforcement import (
    extend_probation,
    file_submission,
    issue_written_warning,
    record_court_decision,
    record_violation,
    record_violation_from_alert,
    submit_to_court,
)
from .errors import CaseworkError, NoOrderInForce
from .orders import OrderTerms, order_in_force, record_initial_order, vary_order
from .registration import record_arrival, register_person, registration_reminders, start_search
from .supervision import (
    add_case_note,
    close_appointment,
    record_change_notice,
    record_check_in,
    record_labour_hours,
    schedule_appointment,
)
from .workdays import add_working_days, is_working_day

__all__ = [
    "CaseworkError", "NoOrderInForce", "OrderTerms", "add_case_note", "add_working_days", "close_appointment",
    "end_expired_orders", "end_supervision", "extend_probation", "file_submission", "is_working_day",
    "issue_written_warning", "order_in_force", "record_arrival", "record_change_notice", "record_check_in",
    "record_court_decision", "record_initial_order", "record_labour_hours", "record_violation",
    "record_violation_from_alert", "recover_devices", "register_person", "registration_reminders",
    "schedule_appointment", "start_search", "submit_to_court", "vary_order",
]
