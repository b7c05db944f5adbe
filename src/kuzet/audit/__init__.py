"""The audit trail: every read and change of personal data, hash-chained so that tampering shows."""

from .chain import SYSTEM, Actor, record, verify

__all__ = ["SYSTEM", "Actor", "record", "verify"]
