"""Pure device-protocol codecs: bytes to decoded messages and device reports, and the bytes a device expects back.

Every module here is free of I/O and of application imports (only ``kuzet.domain``): it never opens a socket,
reads a clock it was not given, or touches the store. Errors are :class:`FrameError` values naming what was wrong.
"""

from .common import Decoded, FrameError, Record, to_reports

__all__ = ["Decoded", "FrameError", "Record", "to_reports"]
