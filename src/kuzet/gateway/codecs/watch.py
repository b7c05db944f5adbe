"""The 3G/SG "watch" protocol over TCP: ``[MM*ID*LLLL*CONTENT]`` frames. Pure; never does I/O.

``MM`` is a maker code, ``LLLL`` the content length as 4 hex digits (the ZJ variant puts a 4-hex-digit index
before it). Inside the content ``7D 01..05`` stand for ``}``, ``[``, ``]``, ``,`` and ``*``. The length field is
not reliable in the field, so a mismatch is recorded (``length_field_matches``) but never rejected.

Reports (UD, UD2, UD3, UD_LTE, UD_WCDMA, AL, AL_LTE): date ddmmyy, time hhmmss (UTC), A/V, latitude, N/S,
longitude, E/W (a signed number wins over the letter), speed km/h, course, altitude, satellites, GSM signal,
battery %, steps, tumbles, status word (bit 16 SOS, 17 low battery, 18 leave fence, 19 enter fence, 20 watch
removed = strap open, 21 fall). The server answers LK with ``[MM*ID*0002*LK]`` and AL with ``[MM*ID*0002*AL]``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from .common import Decoded, FrameError, Record

PROTOCOL = "watch"
MAX_FRAME = 64 * 1024

_ESCAPES = {1: 0x7D, 2: 0x5B, 3: 0x5D, 4: 0x2C, 5: 0x2A}
_REPORTS = frozenset({"UD", "UD2", "UD3", "UD_LTE", "UD_WCDMA", "AL", "AL_LTE", "AL_WCDMA"})
_REPLIES = {"LK": "LK", "AL": "AL", "AL_LTE": "AL", "AL_WCDMA": "AL", "btemp2": "btemp2", "TKQ": "TKQ",
            "TKQ2": "TKQ2"}
STATUS_ALARMS = {16: "sos", 17: "battery_low", 18: "geofence_exit", 19: "geofence_enter", 20: "strap_open",
                 21: "fall"}
_HEADER = re.compile(rb"^\[([0-9A-Za-z]{2})\*([0-9A-Za-z]+)\*(?:([0-9A-Fa-f]{4})\*)?([^*]{4})\*")

#: "Locate now": the CR command makes the watch report its position at once.
LOCATE_COMMAND = "CR"


def next_frame(buf: bytes | bytearray, *, max_frame: int = MAX_FRAME) -> int | None:
    if not buf:
        return None
    if buf[0] != 0x5B:
        raise FrameError(f"bad start byte 0x{buf[0]:02x}: watch frames start with '['")
    end = bytes(buf[:max_frame]).find(b"]")
    if end < 0:
        if len(buf) >= max_frame:
            raise FrameError(f"frame too large: no ']' within {max_frame} bytes")
        return None
    return end + 1


def unescape(data: bytes) -> bytes:
    out = bytearray()
    i = 0
    while i < len(data):
        b = data[i]
        if b == 0x7D and i + 1 < len(data) and data[i + 1] in _ESCAPES:
            out.append(_ESCAPES[data[i + 1]])
            i += 2
        else:
            out.append(b)
            i += 1
    return bytes(out)


def escape(data: bytes) -> bytes:
    back = {v: k for k, v in _ESCAPES.items()}
    out = bytearray()
    for b in data:
        if b in back:
            out += bytes([0x7D, back[b]])
        else:
            out.append(b)
    return bytes(out)


def decode(frame: bytes, *, device_id: str | None = None) -> Decoded:
    """Decode one complete ``[...]`` frame."""
    frame = bytes(frame)
    if not frame.startswith(b"["):
        raise FrameError("not a watch frame: it does not start with '['")
    if not frame.endswith(b"]"):
        raise FrameError("watch frame is not terminated by ']'")
    m = _HEADER.match(frame)
    if not m:
        raise FrameError("watch frame header is not [MM*ID*LLLL*")
    maker, device_raw, index, length_text = m.groups()
    try:
        declared = int(length_text, 16)
    except ValueError:
        raise FrameError(f"length field {length_text!r} is not four hex digits") from None
    if not re.fullmatch(rb"[0-9A-Fa-f]{4}", length_text):
        raise FrameError(f"length field {length_text!r} is not four hex digits")
    content = unescape(frame[m.end() : -1])
    device = device_raw.decode("ascii")
    info: dict[str, Any] = {"maker": maker.decode("ascii"), "length_field_matches": declared == len(content),
                            "unescaped_hex": (frame[: m.end()] + content + b"]").hex()}
    if index is not None:
        info["index"] = index.decode("ascii")
    keyword = content.split(b",", 1)[0].decode("latin-1")
    info["keyword"] = keyword
    info["content"] = content.decode("latin-1")
    reply_word = _REPLIES.get(keyword)
    reply = None
    if reply_word is not None:
        reply = encode_command(info["maker"], device, reply_word, index=info.get("index"))
    if keyword in _REPORTS:
        fields = content.decode("latin-1").split(",")
        record = _report(fields, keyword)
        kind = "alarm" if keyword.startswith("AL") else "position"
        return Decoded(PROTOCOL, kind, frame, device, (record,), reply, info)
    if keyword == "LK":
        fields = content.decode("latin-1").split(",")
        battery = _int(fields[3], "battery") if len(fields) >= 4 and fields[3] else None
        record = Record(battery_pct=float(battery) if battery is not None and 0 <= battery <= 100 else None,
                        source="none")
        return Decoded(PROTOCOL, "heartbeat", frame, device, (record,), reply, info)
    if keyword == "btemp2":
        fields = content.decode("latin-1").split(",")
        if len(fields) >= 3:
            info["body_temp_c"] = _float(fields[2], "body temperature")
        return Decoded(PROTOCOL, "status", frame, device,
                       (Record(source="none", extra={"body_temp_c": info.get("body_temp_c")}),), reply, info)
    if keyword == "oxygen":
        fields = content.decode("latin-1").split(",")
        if len(fields) >= 3:
            info["spo2_pct"] = _float(fields[2], "blood oxygen")
        return Decoded(PROTOCOL, "status", frame, device,
                       (Record(source="none", extra={"spo2_pct": info.get("spo2_pct")}),), reply, info)
    return Decoded(PROTOCOL, "framing" if keyword in ("TK",) else "other", frame, device, (), reply, info)


def _int(text: str, what: str) -> int:
    if not re.fullmatch(r"-?\d+", text):
        raise FrameError(f"{what} {text!r} is not an integer")
    return int(text)


def _float(text: str, what: str) -> float:
    if not re.fullmatch(r"-?\d+(\.\d+)?", text):
        raise FrameError(f"{what} {text!r} is not a number")
    return float(text)


def _report(f: list[str], keyword: str) -> Record:
    if len(f) < 17:
        raise FrameError(f"{keyword} report has {len(f)} fields, expected at least 17")
    date_t, time_t, flag = f[1], f[2], f[3]
    if not (re.fullmatch(r"\d{6}", date_t) and re.fullmatch(r"\d{6}", time_t)):
        raise FrameError(f"date/time {date_t!r} {time_t!r} is not ddmmyy hhmmss")
    try:
        time = datetime(2000 + int(date_t[4:6]), int(date_t[2:4]), int(date_t[0:2]), int(time_t[0:2]),
                        int(time_t[2:4]), int(time_t[4:6]), tzinfo=UTC)
    except ValueError:
        raise FrameError(f"invalid date/time {date_t} {time_t}") from None
    if flag not in ("A", "V"):
        raise FrameError(f"validity flag {flag!r} is not A or V")
    lat = _float(f[4], "latitude")
    lon = _float(f[6], "longitude")
    if lat >= 0 and f[5] == "S":
        lat = -lat
    if lon >= 0 and f[7] == "W":
        lon = -lon
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise FrameError(f"coordinates out of range: ({lat}, {lon})")
    located = not (lat == 0 and lon == 0)
    status_text = f[16]
    if not re.fullmatch(r"[0-9A-Fa-f]{1,8}", status_text):
        raise FrameError(f"status word {status_text!r} is not hex")
    status = int(status_text, 16)
    alarms = tuple(word for bit, word in STATUS_ALARMS.items() if status >> bit & 1)
    battery = _int(f[13], "battery") if f[13] else None
    return Record(time=time, lat=lat if located else None, lon=lon if located else None,
                  valid=flag == "A" and located, satellites=_int(f[11], "satellites") if f[11] else None,
                  speed_kmh=_float(f[8], "speed"), course_deg=_float(f[9], "course"),
                  altitude_m=_float(f[10], "altitude"),
                  battery_pct=float(battery) if battery is not None and 0 <= battery <= 100 else None,
                  alarms=alarms, strap="open" if status >> 20 & 1 else None,
                  extra={"status_hex": status_text.upper(), "gsm_signal": f[12]})


def encode_reply(message: Decoded) -> bytes | None:
    return message.reply


def encode_command(maker: str, device_id: str, content: str, *, index: str | None = None) -> bytes:
    """``[MM*ID*LLLL*CONTENT]`` with the content length in 4 lower-case hex digits (text content is sent as is;
    binary payloads are passed through :func:`escape` by the caller)."""
    raw = content.encode("latin-1")
    head = f"[{maker}*{device_id}*" + (f"{index}*" if index else "") + f"{len(raw):04x}*"
    return head.encode("ascii") + raw + b"]"
