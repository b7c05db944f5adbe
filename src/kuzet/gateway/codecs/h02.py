"""H02 over TCP: ``*HQ,...#`` text frames and ``$`` packed-BCD binary frames. Pure; never does I/O.

Text: maker, device id, command, fields. V1 (and V8 etc.) reports: time hhmmss, A/V validity (empty =
invalid), ddmm.mmmm latitude and N/S, dddmm.mmmm longitude and E/W (some firmware writes ``-dd-mm.mmmm``),
speed in knots, course, date ddmmyy, 8-hex-digit status word. ``HTBT`` is a heartbeat, optionally with a
battery percentage. Binary frames are 45 bytes. No reply is required for reports.

The status word is kept as ``status_hex`` in the report's ``extra``; its bits are active-low and their alarm
meaning differs between models, so no alarm is derived from them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from .common import KNOTS_TO_KMH, Decoded, FrameError, Record

PROTOCOL = "h02"
MAX_FRAME = 1024
BINARY_LENGTH = 45

_COORD = re.compile(r"^(-?)(\d*)(?:-(\d+(?:\.\d+)?)|(\.\d+)?)$")


def next_frame(buf: bytes | bytearray, *, max_frame: int = MAX_FRAME) -> int | None:
    """Length of the first complete frame in ``buf``; ``None`` if more bytes are needed."""
    if not buf:
        return None
    if buf[0] == 0x2A:  # '*'
        end = bytes(buf[:max_frame]).find(b"#")
        if end < 0:
            if len(buf) >= max_frame:
                raise FrameError(f"frame too large: no '#' within {max_frame} bytes")
            return None
        return end + 1
    if buf[0] == 0x24:  # '$'
        return BINARY_LENGTH if len(buf) >= BINARY_LENGTH else None
    raise FrameError(f"bad start byte 0x{buf[0]:02x}: H02 frames start with '*' or '$'")


def decode(frame: bytes, *, device_id: str | None = None) -> Decoded:
    """Decode one complete text or binary frame."""
    frame = bytes(frame)
    if not frame:
        raise FrameError("empty frame")
    if frame[0] == 0x2A:
        return _decode_text(frame)
    if frame[0] == 0x24:
        return _decode_binary(frame)
    raise FrameError(f"bad start byte 0x{frame[0]:02x}: H02 frames start with '*' or '$'")


def _decode_text(frame: bytes) -> Decoded:
    if not frame.endswith(b"#"):
        raise FrameError("text frame is not terminated by '#'")
    try:
        text = frame[1:-1].decode("ascii")
    except UnicodeDecodeError:
        raise FrameError("text frame contains non-ASCII bytes") from None
    fields = text.split(",")
    if len(fields) < 3:
        raise FrameError(f"text frame has {len(fields)} fields, expected maker, id and command")
    device, command = fields[1], fields[2]
    if not device:
        raise FrameError("text frame has an empty device id")
    info: dict[str, Any] = {"maker": fields[0], "command": command, "fields": fields[3:]}
    if command == "HTBT":
        battery = None
        if len(fields) > 3 and fields[3]:
            battery = _number(fields[3], "battery")
        record = Record(battery_pct=battery if battery is not None and 0 <= battery <= 100 else None, source="none")
        return Decoded(PROTOCOL, "heartbeat", frame, device, (record,), None, info)
    if command.startswith("V") and len(fields) >= 13:
        return Decoded(PROTOCOL, "position", frame, device, (_text_report(fields),), None, info)
    if command.startswith("V"):
        raise FrameError(f"{command} report has {len(fields)} fields, expected at least 13")
    return Decoded(PROTOCOL, "other", frame, device, (), None, info)


def _text_report(f: list[str]) -> Record:
    time_text, flag, lat_t, ns, lon_t, ew, speed_t, course_t, date_t, status = f[3:13]
    if not re.fullmatch(r"[0-9A-Fa-f]{8}", status):
        raise FrameError(f"status word {status!r} is not 8 hex digits")
    extra = {"status_hex": status.upper()}
    valid = flag == "A"
    if flag not in ("A", "V", ""):
        raise FrameError(f"validity flag {flag!r} is not A or V")
    time = None
    if time_text or date_t:
        time = _datetime(date_t, time_text)
    speed = _number(speed_t, "speed") if speed_t else None
    course = _number(course_t, "course") if course_t else None
    lat = lon = None
    if lat_t or lon_t:
        lat = _coordinate(lat_t, ns, ("N", "S"), "latitude")
        lon = _coordinate(lon_t, ew, ("E", "W"), "longitude")
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise FrameError(f"coordinates out of range: ({lat}, {lon})")
    return Record(time=time, lat=lat, lon=lon, valid=valid and lat is not None,
                  speed_kmh=None if speed is None else speed * KNOTS_TO_KMH, course_deg=course, extra=extra)


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise FrameError(f"{what} {text!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise FrameError(f"{what} {text!r} is not a finite number")
    return value


def _coordinate(text: str, hemisphere: str, letters: tuple[str, str], what: str) -> float:
    m = _COORD.match(text)
    if not m or not text:
        raise FrameError(f"{what} {text!r} is not ddmm.mmmm")
    negative, head, dashed_minutes, fraction = m.groups()
    if dashed_minutes is not None:
        degrees, minutes = float(head or 0), float(dashed_minutes)
    else:
        value = float((head or "0") + (fraction or ""))
        degrees = float(int(value // 100))
        minutes = value - degrees * 100
    if minutes >= 60:
        raise FrameError(f"{what} {text!r}: minutes {minutes} are 60 or more")
    result = degrees + minutes / 60
    if hemisphere not in letters:
        raise FrameError(f"{what} hemisphere {hemisphere!r} is not {letters[0]} or {letters[1]}")
    if negative or hemisphere == letters[1]:
        result = -result
    return round(result, 7)


def _datetime(date_text: str, time_text: str) -> datetime:
    if not (re.fullmatch(r"\d{6}", date_text) and re.fullmatch(r"\d{6}", time_text)):
        raise FrameError(f"date/time {date_text!r} {time_text!r} is not ddmmyy hhmmss")
    try:
        return datetime(2000 + int(date_text[4:6]), int(date_text[2:4]), int(date_text[0:2]),
                        int(time_text[0:2]), int(time_text[2:4]), int(time_text[4:6]), tzinfo=UTC)
    except ValueError:
        raise FrameError(f"invalid date/time {date_text} {time_text}") from None


def _decode_binary(frame: bytes) -> Decoded:
    if len(frame) < BINARY_LENGTH:
        raise FrameError(f"binary frame truncated: {len(frame)} bytes, expected {BINARY_LENGTH}")
    h = frame[1:32].hex()
    device = h[0:10]
    bcd = h[0:30] + h[32:41]  # id, time, date, latitude, longitude digits (battery byte skipped)
    if not bcd.isdigit():
        raise FrameError(f"binary frame has non-BCD digits: 0x{frame[1:25].hex()}")
    time = _datetime(h[16:22], h[10:16])
    lat_text, battery_hex, lon_text, flag_hex = h[22:30], h[30:32], h[32:41], h[41]
    speed_course = h[42:48]
    if not speed_course.isdigit():
        raise FrameError(f"speed/course not BCD: {speed_course}")
    flag = int(flag_hex, 16)
    lat = int(lat_text[0:2]) + float(lat_text[2:4] + "." + lat_text[4:]) / 60
    lon = int(lon_text[0:3]) + float(lon_text[3:5] + "." + lon_text[5:]) / 60
    if not flag & 0x4:
        lat = -lat
    if not flag & 0x8:
        lon = -lon
    if lat < -90 or lat > 90 or lon < -180 or lon > 180:
        raise FrameError(f"coordinates out of range: ({lat}, {lon})")
    status = frame[25:29].hex().upper()
    record = Record(time=time, lat=round(lat, 7), lon=round(lon, 7), valid=bool(flag & 0x2),
                    speed_kmh=int(speed_course[0:3]) * KNOTS_TO_KMH, course_deg=float(int(speed_course[3:6])),
                    extra={"status_hex": status, "battery_byte": int(battery_hex, 16)})
    return Decoded(PROTOCOL, "position", frame[:BINARY_LENGTH], device, (record,), None, {"status_hex": status})


def encode_reply(message: Decoded) -> bytes | None:
    return message.reply


def encode_command(device_id: str, command: str, fields: list[str]) -> bytes:
    """``*HQ,<id>,<command>,<fields...>#``."""
    return ("*HQ," + ",".join([device_id, command, *fields]) + "#").encode("ascii")
