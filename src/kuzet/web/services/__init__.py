"""The officer application's action layer: one function per thing a user can do, shared by the API, the UI
and the CLI. Each function takes the caller's :class:`~kuzet.auth.Principal`, checks scope through
:mod:`kuzet.access`, and writes the audit trail for every read or change of personal data. Routes never
query the database themselves.
"""
