"""The pure domain layer: value types and rules, with no I/O and no clock.

Nothing in this package may open a file, a socket or a database, or call ``now()``; time is always
passed in. Everything else in Kuzet builds on these types.
"""
