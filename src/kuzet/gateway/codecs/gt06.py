"""GT06 (Concox/Jimi) over TCP: login, GPS/LBS location, status and alarm frames, online commands. Pure.

Frame: ``78 78`` + 1-byte length (or ``79 79`` + 2-byte length), protocol number, content, 2-byte serial,
CRC-16/X-25 over length..serial, ``0D 0A``. The server acknowledges login (0x01), heartbeat (0x13) and alarm
frames (0x16, 0x19, 0x26, 0x27, 0xA4, 0xA5) with ``78 78 05 <protocol> <serial> <crc> 0D 0A``.

Alarms come from the alarm byte of the status block (0x01 SOS, 0x02 power cut, 0x03 shock, 0x04/0x05 fence
in/out, 0x06 overspeed, 0x0E/0x0F/0x19 low battery, 0x11 power off, 0x13 tamper, 0x18 removal = strap open)
and from terminal-information bits 5-3 (100 SOS, 011 low battery, 010 power cut, 001 shock). Codes that the
public Concox tables do not define are not reported.
"""

from __future__ import annotations

import struct
from datetime import UTC, datetime
from typing import Any

from kuzet.domain.reports import DeviceReport

from .common import Decoded, FrameError, Record, crc16_x25

PROTOCOL = "gt06"
MAX_FRAME = 2048

LOGIN, HEARTBEAT, STRING_INFO, COMMAND = 0x01, 0x13, 0x15, 0x80
LOCATION = frozenset({0x10, 0x12, 0x22, 0x37})
GPS_ALARMS = frozenset({0x16, 0x26, 0x27, 0xA4})
LBS_ALARMS = frozenset({0x19, 0xA5})
ACKED = frozenset({LOGIN, HEARTBEAT}) | GPS_ALARMS | LBS_ALARMS

ALARM_CODES: dict[int, str] = {
    0x01: "sos", 0x02: "power_cut", 0x03: "shock", 0x04: "geofence_enter", 0x05: "geofence_exit",
    0x06: "overspeed", 0x0E: "battery_low", 0x0F: "battery_low", 0x11: "power_off", 0x13: "tamper",
    0x18: "strap_open", 0x19: "battery_low",
}
_ALARM_WORDS = {v: k for k, v in ALARM_CODES.items() if k not in (0x0E, 0x0F)}
TERMINAL_ALARMS: dict[int, str] = {0b100: "sos", 0b011: "battery_low", 0b010: "power_cut", 0b001: "shock"}
_TERMINAL_WORDS = {v: k for k, v in TERMINAL_ALARMS.items()}

#: "Locate now": ask the device for its position at once (answered with a position and a 0x15 text).
LOCATE_COMMAND = "WHERE#"


def next_frame(buf: bytes | bytearray, *, max_frame: int = MAX_FRAME) -> int | None:
    """Length of the first complete frame in ``buf``; ``None`` if more bytes are needed."""
    if len(buf) < 2:
        if buf and buf[0] not in (0x78, 0x79):
            raise FrameError(f"bad start byte 0x{buf[0]:02x}: GT06 frames start with 7878 or 7979")
        return None
    start = bytes(buf[:2])
    if start == b"\x78\x78":
        if len(buf) < 3:
            return None
        length, head = buf[2], 3
    elif start == b"\x79\x79":
        if len(buf) < 4:
            return None
        length, head = int.from_bytes(buf[2:4], "big"), 4
    else:
        raise FrameError(f"bad start bytes 0x{start.hex()}: GT06 frames start with 7878 or 7979")
    if length < 5:
        raise FrameError(f"length {length} is shorter than the minimum 5 (protocol, serial, CRC)")
    total = head + length + 2
    if total > max_frame:
        raise FrameError(f"frame too large: {total} bytes (limit {max_frame})")
    return total if len(buf) >= total else None


def decode(frame: bytes, *, device_id: str | None = None, check_crc: bool = True) -> Decoded:
    """Decode one complete GT06 frame."""
    frame = bytes(frame)
    total = next_frame(frame)
    if total is None:
        raise FrameError(f"frame truncated: {len(frame)} bytes")
    if total != len(frame):
        raise FrameError(f"length field says {total} bytes in all, got {len(frame)}")
    if frame[-2:] != b"\r\n":
        raise FrameError(f"bad stop bytes 0x{frame[-2:].hex()}, expected 0x0d0a")
    head = 3 if frame[0] == 0x78 else 4
    body = frame[2:-4]
    (crc_field,) = struct.unpack(">H", frame[-4:-2])
    crc = crc16_x25(body)
    crc_ok = crc == crc_field
    if check_crc and not crc_ok:
        raise FrameError(f"CRC mismatch: got 0x{crc_field:04x}, expected 0x{crc:04x}")
    protocol = frame[head]
    content = frame[head + 1 : -6]
    (serial,) = struct.unpack(">H", frame[-6:-4])
    reply = encode_ack(protocol, serial) if protocol in ACKED else None
    info: dict[str, Any] = {"protocol": protocol, "serial": serial}
    if protocol == LOGIN:
        if len(content) < 8:
            raise FrameError(f"login content is {len(content)} bytes, the terminal id needs 8")
        digits = _bcd(content[:8], "terminal id")
        return Decoded(PROTOCOL, "login", frame, digits[1:] if digits.startswith("0") else digits, (), reply, info,
                       crc_ok)
    if protocol == HEARTBEAT:
        if len(content) < 3:
            raise FrameError(f"heartbeat content is {len(content)} bytes, expected at least 3")
        status = _terminal(content[0], content[1], content[2], None)
        info.update(status)
        record = Record(battery_pct=_battery_pct(content[1]), charging=status["charging"],
                        alarms=_terminal_alarm(content[0]), source="none", extra=_status_extra(status))
        return Decoded(PROTOCOL, "heartbeat", frame, device_id, (record,), reply, info, crc_ok)
    if protocol in LOCATION or protocol in GPS_ALARMS:
        fix = _gps(content)
        alarms: tuple[str, ...] = ()
        extra: dict[str, Any] = {}
        battery = charging = None
        if protocol in GPS_ALARMS:
            rest = content[18:]
            lbs = _lbs_length(rest, protocol)
            status_block = rest[lbs:]
            alarms, status = _status(status_block, protocol)
            info.update(status)
            extra = _status_extra(status)
            battery = _battery_pct(status.get("battery_level"))
            charging = status.get("charging")
        record = Record(**fix, alarms=alarms, battery_pct=battery, charging=charging, extra=extra)
        kind = "alarm" if protocol in GPS_ALARMS else "position"
        return Decoded(PROTOCOL, kind, frame, device_id, (record,), reply, info, crc_ok)
    if protocol in LBS_ALARMS:
        lbs = 15 if protocol == 0xA5 else 8
        if len(content) < lbs + 5:
            raise FrameError(f"LBS alarm content is {len(content)} bytes, expected at least {lbs + 5}")
        alarms, status = _status(content[lbs:], protocol)
        info.update(status)
        record = Record(alarms=alarms, battery_pct=_battery_pct(status.get("battery_level")),
                        charging=status.get("charging"), source="none", extra=_status_extra(status))
        return Decoded(PROTOCOL, "alarm", frame, device_id, (record,), reply, info, crc_ok)
    if protocol in (STRING_INFO, COMMAND):
        if len(content) < 5 or content[0] < 4 or 1 + content[0] > len(content):
            raise FrameError("command frame: command length does not fit the frame")
        info["server_flag_hex"] = content[1:5].hex()
        text = content[5 : 1 + content[0]]
        info["command_text"] = text.decode("latin-1")
        kind = "server_reply" if protocol == COMMAND else "command_response"
        return Decoded(PROTOCOL, kind, frame, device_id, (), None, info, crc_ok)
    return Decoded(PROTOCOL, "other", frame, device_id, (), None, info, crc_ok)


def _bcd(data: bytes, what: str) -> str:
    text = data.hex()
    if not text.isdigit():
        raise FrameError(f"{what} is not BCD: 0x{text}")
    return text


def _gps(content: bytes) -> dict[str, Any]:
    if len(content) < 18:
        raise FrameError(f"GPS block truncated: {len(content)} bytes, expected 18")
    y, mo, d, h, mi, s = content[:6]
    try:
        time = datetime(2000 + y, mo, d, h, mi, s, tzinfo=UTC)
    except ValueError:
        raise FrameError(f"invalid date/time in GPS block: 0x{content[:6].hex()}") from None
    satellites = content[6] & 0x0F
    lat_raw, lon_raw = struct.unpack(">II", content[7:15])
    speed = content[15]
    (flags,) = struct.unpack(">H", content[16:18])
    lat = lat_raw / 1_800_000
    lon = lon_raw / 1_800_000
    if not flags & 0x0400:
        lat = -lat
    if flags & 0x0800:
        lon = -lon
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise FrameError(f"coordinates out of range: ({lat:.6f}, {lon:.6f})")
    return {"time": time, "lat": lat, "lon": lon, "valid": bool(flags & 0x1000), "satellites": satellites,
            "speed_kmh": float(speed), "course_deg": float(flags & 0x03FF)}


def _lbs_length(rest: bytes, protocol: int) -> int:
    """Bytes of the cell block after the GPS block: a length byte counting itself (9 for GSM, 16 for 4G), or
    a bare 8-byte GSM block in variants without one."""
    if not rest:
        raise FrameError("alarm frame ends after the GPS block")
    first = rest[0]
    if (first in (9, 16) or (protocol == 0xA4 and first == 16)) and len(rest) >= first + 5:
        return first
    if len(rest) >= 8 + 5:
        return 8
    raise FrameError(f"alarm frame: {len(rest)} bytes after the GPS block, too few for cell data and status")


def _status(block: bytes, protocol: int) -> tuple[tuple[str, ...], dict[str, Any]]:
    if len(block) < 5:
        raise FrameError(f"status block truncated: {len(block)} bytes, expected at least 5")
    terminal = block[0]
    if protocol in (0xA4, 0xA5):
        voltage, gsm, code = block[1], block[2], block[3]
    else:
        voltage, gsm, code = block[1], block[2], block[-2]
    status = _terminal(terminal, voltage, gsm, code)
    alarms: list[str] = []
    word = ALARM_CODES.get(code)
    if word:
        alarms.append(word)
    for extra in _terminal_alarm(terminal):
        if extra not in alarms:
            alarms.append(extra)
    return tuple(alarms), status


def _terminal(terminal: int, voltage: int, gsm: int, code: int | None) -> dict[str, Any]:
    out: dict[str, Any] = {"terminal_info": terminal, "charging": bool(terminal & 0x04),
                           "ignition": bool(terminal & 0x02)}
    if 0 <= voltage <= 6:
        out["battery_level"] = voltage
    if 0 <= gsm <= 4:
        out["gsm_level"] = gsm
    if code is not None:
        out["alarm_code"] = code
    return out


def _terminal_alarm(terminal: int) -> tuple[str, ...]:
    word = TERMINAL_ALARMS.get((terminal >> 3) & 0b111)
    return (word,) if word else ()


def _status_extra(status: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in status.items() if k in ("battery_level", "gsm_level", "alarm_code", "terminal_info")}


def _battery_pct(level: int | None) -> float | None:
    if level is None or not 0 <= level <= 6:
        return None
    return round(level * 100 / 6, 1)


def _frame(protocol: int, content: bytes, serial: int) -> bytes:
    body = bytes([len(content) + 5, protocol]) + content + struct.pack(">H", serial & 0xFFFF)
    return b"\x78\x78" + body + struct.pack(">H", crc16_x25(body)) + b"\r\n"


def encode_ack(protocol: int, serial: int) -> bytes:
    """``78 78 05 <protocol> <serial> <crc> 0D 0A``."""
    return _frame(protocol, b"", serial)


def encode_reply(message: Decoded) -> bytes | None:
    return message.reply


def encode_command(command_text: str, *, serial: int = 0, server_flag: int = 0, language: bytes = b"") -> bytes:
    """An online command (protocol 0x80): command length, 4-byte server flag, ASCII command, optional language."""
    text = command_text.encode("ascii")
    if len(text) + 4 > 255:
        raise ValueError("GT06 command text is limited to 251 bytes")
    return _frame(COMMAND, bytes([len(text) + 4]) + struct.pack(">I", server_flag) + text + language, serial)


# -- client side ------------------------------------------------------------------------------------------------


def encode_login(imei: str, *, serial: int = 1) -> bytes:
    digits = imei.rjust(16, "0")
    if len(digits) != 16 or not digits.isdigit():
        raise ValueError(f"GT06 terminal id must be up to 16 digits: {imei!r}")
    return _frame(LOGIN, bytes.fromhex(digits), serial)


def encode_command_response(text: str, *, server_flag: int, serial: int = 1) -> bytes:
    """The device's answer to an online command (protocol 0x15), echoing the command's server flag."""
    data = text.encode("latin-1")
    if len(data) + 4 > 255:
        raise ValueError("GT06 response text is limited to 251 bytes")
    return _frame(STRING_INFO, bytes([len(data) + 4]) + struct.pack(">I", server_flag) + data, serial)


def _gps_block(report: DeviceReport) -> bytes:
    t = report.time.astimezone(UTC)
    lat = report.lat if report.lat is not None else 0.0
    lon = report.lon if report.lon is not None else 0.0
    flags = round(report.heading_deg or 0) % 360
    if lat >= 0:
        flags |= 0x0400
    if lon < 0:
        flags |= 0x0800
    if report.lat is not None:
        flags |= 0x1000
    sats = min(report.satellites if report.satellites is not None else 8, 15) if report.lat is not None else 0
    return (bytes([t.year - 2000, t.month, t.day, t.hour, t.minute, t.second, 0xC0 | sats])
            + struct.pack(">II", round(abs(lat) * 1_800_000), round(abs(lon) * 1_800_000))
            + bytes([min(round(report.speed_kmh or 0), 255)]) + struct.pack(">H", flags))


def _alarm_code(report: DeviceReport) -> int:
    events = set(report.events)
    if report.strap is not None and report.strap.value == "open":
        events.add("strap_open")
    if report.case is not None and report.case.value == "open":
        events.add("case_open")
    for event, word in (("sos", "sos"), ("strap_open", "strap_open"), ("case_open", "tamper"),
                        ("power_cut", "power_cut"), ("battery_low", "battery_low")):
        if event in events:
            return _ALARM_WORDS[word]
    return 0


def encode_report(report: DeviceReport, *, serial: int = 1, acknowledged: bool = False) -> bytes:
    """A device frame for ``report``: 0x12 location when there is nothing to signal, else a 0x16 alarm frame
    (GPS, cell block, status with battery level and alarm code); 0x13 heartbeat without a fix. With
    ``acknowledged`` every position goes as a 0x16 frame (alarm code 0), which the server acknowledges."""
    level = 6 if report.battery_pct is None else max(0, min(6, round(report.battery_pct * 6 / 100)))
    terminal = 0x40 | (0x04 if report.charging else 0)
    code = _alarm_code(report)
    cell = bytes.fromhex("0901cc00287d001f71")
    if report.lat is None and code == 0:
        return _frame(HEARTBEAT, bytes([terminal, level, 4, 0, 2]), serial)
    if code == 0 and report.battery_pct is None and not acknowledged:
        return _frame(0x12, _gps_block(report) + cell[1:], serial)
    return _frame(0x16, _gps_block(report) + cell + bytes([terminal, level, 4, code, 2]), serial)
