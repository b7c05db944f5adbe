"""Teltonika Codec 8, 8 Extended, 12 and 13 over TCP: IMEI login, AVL packets, commands. Pure; never does I/O.

Wire layout (all integers big-endian):

* login: 2-byte length + IMEI digits; the server answers ``01`` (accept) or ``00`` (refuse);
* data frame: ``00000000`` + 4-byte data length + data + 4-byte CRC-16/IBM of the data (upper two bytes 0);
  data = codec byte, record count, records, record count again;
* AVL acknowledgement: the record count as 4 bytes.

Alarm mapping (IO elements): 113 battery level %, 252 unplug = ``power_cut``, 249 GSM jamming and 318 GNSS
jamming = ``jamming``, 236 alarm button = ``sos``, 247 crash = ``shock``. Bracelets built on Teltonika
hardware follow the Kuzet wiring convention: the strap loop on DIN2 (IO 2: 1 = open, ``strap_open``) and the
case switch on DIN3 (IO 3: 1 = open, ``tamper``).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from kuzet.domain.reports import DeviceReport

from .common import Decoded, FrameError, Record, crc16_ibm_fast

PROTOCOL = "teltonika"
MAX_FRAME = 64 * 1024
LOGIN_ACCEPT = b"\x01"
LOGIN_REFUSE = b"\x00"

IO_DIN2, IO_DIN3 = 2, 3
IO_BATTERY_PCT = 113
IO_UNPLUG = 252
IO_GSM_JAMMING = 249
IO_GNSS_JAMMING = 318
IO_ALARM = 236
IO_CRASH = 247


def next_frame(buf: bytes | bytearray, *, max_frame: int = MAX_FRAME) -> int | None:
    """Length of the first complete frame in ``buf`` (login or data), ``None`` if more bytes are needed.

    Raises :class:`FrameError` when the bytes cannot start a frame or the declared size exceeds ``max_frame``.
    """
    if len(buf) < 2:
        return None
    if buf[0] == 0 and buf[1] == 0:
        if len(buf) < 8:
            if any(buf[2:]):
                raise FrameError("bad preamble: a data frame starts with four zero bytes")
            return None
        if buf[2] or buf[3]:
            raise FrameError(f"bad preamble: got 0x{bytes(buf[:4]).hex()}, expected 0x00000000")
        (length,) = struct.unpack_from(">I", buf, 4)
        if length + 12 > max_frame:
            raise FrameError(f"frame too large: {length} data bytes (limit {max_frame - 12})")
        if length < 3:
            raise FrameError(f"data length {length} is too small for a codec byte and two counts")
        total = 12 + length
        return total if len(buf) >= total else None
    (length,) = struct.unpack_from(">H", buf, 0)
    if length > 32:
        raise FrameError(f"not a Teltonika frame: login IMEI length {length} is implausible")
    return 2 + length if len(buf) >= 2 + length else None


def decode(frame: bytes, *, device_id: str | None = None, check_crc: bool = True) -> Decoded:
    """Decode one complete frame: an IMEI login or a Codec 8/8E/12/13 data frame."""
    frame = bytes(frame)
    if len(frame) < 2:
        raise FrameError("frame truncated: fewer than 2 bytes")
    if frame[:2] != b"\x00\x00":
        return _decode_login(frame)
    if len(frame) < 12:
        raise FrameError(f"frame truncated: {len(frame)} bytes, a data frame has at least 12")
    if frame[:4] != b"\x00\x00\x00\x00":
        raise FrameError(f"bad preamble: got 0x{frame[:4].hex()}, expected 0x00000000")
    (length,) = struct.unpack_from(">I", frame, 4)
    if len(frame) != 12 + length:
        raise FrameError(f"frame truncated or padded: data length field says {length} bytes, "
                         f"the frame holds {len(frame) - 12}")
    data = frame[8 : 8 + length]
    (crc_field,) = struct.unpack_from(">I", frame, 8 + length)
    crc = crc16_ibm_fast(data)
    crc_ok = crc_field == crc
    if check_crc and not crc_ok:
        raise FrameError(f"CRC mismatch: got 0x{crc_field:04x}, expected 0x{crc:04x}")
    codec = data[0]
    if codec in (0x08, 0x8E):
        records, info = _decode_avl(data)
        reply = struct.pack(">I", len(records))
        return Decoded(PROTOCOL, "position", frame, device_id, tuple(records), reply, info, crc_ok)
    if codec in (0x0C, 0x0D, 0x0E):
        return _decode_command(data, frame, device_id, crc_ok)
    raise FrameError(f"unknown codec 0x{codec:02x} (expected 0x08, 0x8E, 0x0C, 0x0D)")


def _decode_login(frame: bytes) -> Decoded:
    (length,) = struct.unpack_from(">H", frame, 0)
    if length == 0 or len(frame) != 2 + length:
        raise FrameError(f"neither an AVL preamble nor an IMEI login: length field {length}, "
                         f"{len(frame) - 2} bytes follow")
    text = frame[2:]
    if not text.isdigit():
        raise FrameError("IMEI login must be ASCII digits")
    imei = text.decode("ascii")
    return Decoded(PROTOCOL, "login", frame, imei, (), LOGIN_ACCEPT, {})


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def take(self, n: int, what: str) -> bytes:
        if self.pos + n > len(self.data):
            raise FrameError(f"frame truncated inside {what}: need {n} bytes at offset {self.pos}, "
                             f"{len(self.data) - self.pos} left")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def uint(self, n: int, what: str) -> int:
        return int.from_bytes(self.take(n, what), "big")


def _decode_avl(data: bytes) -> tuple[list[Record], dict[str, Any]]:
    codec = data[0]
    extended = codec == 0x8E
    r = _Reader(data, 1)
    count = r.uint(1, "record count")
    if count == 0:
        raise FrameError("record count is 0 (valid counts are 1-255)")
    records: list[Record] = []
    per_record: list[dict[str, Any]] = []
    for index in range(count):
        record, info = _decode_record(r, extended, index)
        records.append(record)
        per_record.append(info)
    trailing = r.uint(1, "trailing record count")
    if trailing != count:
        raise FrameError(f"record count mismatch: {count} at the start, {trailing} at the end")
    if r.pos != len(data):
        raise FrameError(f"{len(data) - r.pos} unexpected bytes after the records")
    return records, {"codec": codec, "records": count, "per_record": per_record}


_HEADER = struct.Struct(">QBiihHBH")  # time (ms), priority, lon, lat, altitude, course, satellites, speed
_IO = {(idw, size): struct.Struct(">" + ("B" if idw == 1 else "H") + {1: "B", 2: "H", 4: "I", 8: "Q"}[size])
       for idw in (1, 2) for size in (1, 2, 4, 8)}
_COUNT = {1: struct.Struct(">B"), 2: struct.Struct(">H")}


def _decode_record(r: _Reader, extended: bool, index: int) -> tuple[Record, dict[str, Any]]:
    what = f"record {index + 1}"
    data = r.data
    try:
        millis, priority, lon_e7, lat_e7, altitude, course, satellites, speed = _HEADER.unpack_from(data, r.pos)
        pos = r.pos + _HEADER.size
        idw = 2 if extended else 1
        count = _COUNT[idw]
        event_io, total = count.unpack_from(data, pos)[0], count.unpack_from(data, pos + idw)[0]
        pos += 2 * idw
        io: dict[str, int | str] = {}
        seen = 0
        for size in (1, 2, 4, 8):
            (n,) = count.unpack_from(data, pos)
            pos += idw
            element = _IO[idw, size]
            for _ in range(n):
                io_id, value = element.unpack_from(data, pos)
                pos += element.size
                io[str(io_id)] = value
            seen += n
        if extended:
            (n,) = _COUNT[2].unpack_from(data, pos)
            pos += 2
            for _ in range(n):
                io_id, length = struct.unpack_from(">HH", data, pos)
                pos += 4
                if pos + length > len(data):
                    raise struct.error("variable-length IO element")
                io[str(io_id)] = data[pos:pos + length].hex()
                pos += length
                seen += 1
    except struct.error:
        raise FrameError(f"frame truncated inside {what}: {len(data) - r.pos} bytes left at offset "
                         f"{r.pos}") from None
    r.pos = pos
    try:
        time = datetime.fromtimestamp(millis / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        raise FrameError(f"{what}: timestamp {millis} ms is out of range") from None
    lon = lon_e7 / 1e7
    lat = lat_e7 / 1e7
    if seen != total:
        raise FrameError(f"{what}: IO count says {total} elements, {seen} were present")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise FrameError(f"{what}: coordinates out of range ({lat}, {lon})")
    alarms, battery, strap, case = _io_meaning(io)
    record = Record(time=time, lat=round(lat, 7), lon=round(lon, 7), valid=satellites > 0, satellites=satellites,
                    speed_kmh=float(speed), course_deg=float(course), altitude_m=float(altitude),
                    battery_pct=battery, alarms=alarms, strap=strap, case=case,
                    extra={"io": io, "priority": priority, "event_io_id": event_io})
    return record, {"priority": priority, "event_io_id": event_io, "io": io}


def _io_meaning(io: dict[str, int | str]) -> tuple[tuple[str, ...], float | None, str | None, str | None]:
    # one lookup per known element; a variable-length element (hex text) never counts as a value
    alarm, unplug, gsm, gnss, crash, din2, din3, level = (
        v if isinstance(v, int) else None for v in map(io.get, _MEANINGFUL))
    alarms: list[str] = []
    if alarm == 1:
        alarms.append("sos")
    if unplug == 1:
        alarms.append("power_cut")
    if gsm == 1 or gnss in (1, 2):
        alarms.append("jamming")
    if crash in (1, 2):
        alarms.append("shock")
    strap = case = None
    if din2 is not None:
        strap = "open" if din2 else "closed"
        if din2:
            alarms.append("strap_open")
    if din3 is not None:
        case = "open" if din3 else "closed"
        if din3:
            alarms.append("tamper")
    battery = float(level) if level is not None and level <= 100 else None
    return tuple(alarms), battery, strap, case


_MEANINGFUL = tuple(str(i) for i in (IO_ALARM, IO_UNPLUG, IO_GSM_JAMMING, IO_GNSS_JAMMING, IO_CRASH, IO_DIN2, IO_DIN3,
                                     IO_BATTERY_PCT))


def _decode_command(data: bytes, frame: bytes, device_id: str | None, crc_ok: bool) -> Decoded:
    codec = data[0]
    r = _Reader(data, 1)
    count = r.uint(1, "command count")
    if count != 1:
        raise FrameError(f"codec 0x{codec:02x}: command count {count}, expected 1")
    kind = r.uint(1, "command type")
    size = r.uint(4, "command size")
    payload = r.take(size, "command payload")
    if r.uint(1, "trailing command count") != count:
        raise FrameError("command count mismatch between start and end")
    if r.pos != len(data):
        raise FrameError(f"{len(data) - r.pos} unexpected bytes after the command")
    info: dict[str, Any] = {"codec": codec, "type": kind}
    records: tuple[Record, ...] = ()
    if codec == 0x0D:
        if size < 4:
            raise FrameError("codec 13 payload shorter than its 4-byte timestamp")
        info["time"] = datetime.fromtimestamp(int.from_bytes(payload[:4], "big"), UTC)
        payload = payload[4:]
    info["payload_hex"] = payload.hex()
    if all(32 <= b < 127 or b in (9, 10, 13) for b in payload):
        text = payload.decode("ascii")
        info["text"] = text
        if codec == 0x0D:
            parts = text.split("|")
            if len(parts) >= 5:
                info["driver_id"] = parts[4]
    kinds = {5: "server_reply", 6: "command_response"}
    return Decoded(PROTOCOL, kinds.get(kind, "command_response"), frame, device_id, records, None, info, crc_ok)


def encode_reply(message: Decoded) -> bytes | None:
    """The bytes the server sends back for ``message``: ``01`` after a login, the record count after AVL data."""
    return message.reply


def encode_ack(count: int) -> bytes:
    return struct.pack(">I", count)


def _data_frame(data: bytes) -> bytes:
    return b"\x00\x00\x00\x00" + struct.pack(">I", len(data)) + data + struct.pack(">I", crc16_ibm_fast(data))


def encode_command(text: str | None = None, *, payload: bytes | None = None, kind: int = 5) -> bytes:
    """A Codec 12 frame carrying a command (type 5) or response (type 6), as text or raw bytes."""
    body = payload if payload is not None else (text or "").encode("ascii")
    return _data_frame(bytes([0x0C, 1, kind]) + struct.pack(">I", len(body)) + body + b"\x01")


#: "Locate now": force the device to make and send a record at once.
LOCATE_COMMAND = "getrecord"


# -- client side: what a device sends -----------------------------------------------------------------------


def encode_login(imei: str) -> bytes:
    data = imei.encode("ascii")
    return struct.pack(">H", len(data)) + data


def encode_avl(reports: Sequence[DeviceReport], *, codec: int = 0x08) -> bytes:
    """A Codec 8 or 8E data frame carrying ``reports`` (1-255), for simulators and tests.

    Battery, strap (DIN2), case (DIN3) and the alarm events (SOS, power cut, jamming) are carried as IO
    elements, so a decode gives them back.
    """
    if not 1 <= len(reports) <= 255:
        raise ValueError(f"a Teltonika frame carries 1-255 records, not {len(reports)}")
    if codec not in (0x08, 0x8E):
        raise ValueError(f"codec must be 0x08 or 0x8E, not 0x{codec:02x}")
    extended = codec == 0x8E
    idw = ">H" if extended else ">B"
    out = bytearray([codec, len(reports)])
    for rep in reports:
        lat = rep.lat if rep.lat is not None else 0.0
        lon = rep.lon if rep.lon is not None else 0.0
        sats = (rep.satellites if rep.satellites is not None else 8) if rep.lat is not None else 0
        out += struct.pack(">QBiihHBH", round(rep.time.timestamp() * 1000), 0, round(lon * 1e7),
                           round(lat * 1e7), max(-32768, min(32767, round(rep.altitude_m or 0))),
                           round(rep.heading_deg or 0) % 360, min(sats, 255),
                           min(round(rep.speed_kmh or 0), 65535))
        one: list[tuple[int, int]] = []
        events = set(rep.events)
        if rep.strap is not None or "strap_open" in events:
            one.append((IO_DIN2, 1 if (rep.strap is not None and rep.strap.value == "open")
                        or "strap_open" in events else 0))
        if rep.case is not None or "case_open" in events:
            one.append((IO_DIN3, 1 if (rep.case is not None and rep.case.value == "open")
                        or "case_open" in events else 0))
        if rep.battery_pct is not None:
            one.append((IO_BATTERY_PCT, round(rep.battery_pct)))
        if "sos" in events:
            one.append((IO_ALARM, 1))
        if "power_cut" in events:
            one.append((IO_UNPLUG, 1))
        if "jamming" in events:
            one.append((IO_GSM_JAMMING, 1))
        out += struct.pack(idw, 0) + struct.pack(idw, len(one)) + struct.pack(idw, len(one))
        for io_id, v in one:
            out += struct.pack(idw, io_id) + struct.pack(">B", v)
        out += struct.pack(idw, 0) * 3
        if extended:
            out += struct.pack(">H", 0)
    out.append(len(reports))
    return _data_frame(bytes(out))


def decode_ack(data: bytes) -> int:
    """The record count in a 4-byte AVL acknowledgement."""
    if len(data) != 4:
        raise FrameError(f"an AVL acknowledgement is 4 bytes, got {len(data)}")
    return int.from_bytes(data, "big")
