"""Authentication: who is calling. Passwords (argon2), UI sessions, API tokens, TOTP, lockout.

This package decides *who* a caller is; :mod:`kuzet.access` decides *what* they may see. It never stores a
password, session token or API token in clear: only argon2 hashes and SHA-256 digests.
"""

from .principal import Principal

__all__ = ["Principal"]
