"""Kuzet: electronic monitoring and probation platform."""

__version__ = "0.1.0"
