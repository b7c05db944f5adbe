"""The open Kuzet device protocol: signed JSON report batches over HTTPS, TCP and MQTT. Pure; no I/O.

The full specification for manufacturers is ``docs/device-protocol.md``; this module is its reference
implementation on both sides (server decoding and device encoding).

* A **batch body** is a UTF-8 JSON object ``{"v": 1, "device", "sent", "reports": [...], "command_results":
  [...]}``; each report carries the device's own ``seq`` (a non-negative integer that grows by one per report).
* The **signature** is HMAC-SHA256 over the exact body bytes with the device secret (UTF-8) as key, sent as
  64 lower-case hex digits (HTTP header ``X-Kuzet-Signature``; TCP frame field; first line of an MQTT message).
* The **acknowledgement** lists exactly the ``seq`` values that are now durable (stored now or earlier), and
  the commands queued for the device.
* **TCP frame**: ``"KZ"``, version ``0x01``, type (``0x01`` batch, ``0x81`` ack, ``0x82`` error), 4-byte big-endian
  body length, 32-byte raw HMAC-SHA256 of the body (zeros on error frames to unknown devices), body.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kuzet.domain.reports import DeviceReport

from .common import Decoded, FrameError, Record

PROTOCOL = "kuzet"
VERSION = 1
MAGIC = b"KZ"
TYPE_BATCH, TYPE_ACK, TYPE_ERROR = 0x01, 0x81, 0x82
HEADER = 2 + 1 + 1 + 4 + 32
MAX_BODY = 1024 * 1024
MAX_REPORTS = 1000
SOURCES = frozenset({"gps", "cell", "wifi", "beacon", "none"})
EVENTS = frozenset({"strap_open", "strap_closed", "case_open", "case_closed", "jamming", "battery_low",
                    "power_off", "power_on", "charging_start", "charging_stop", "sos", "power_cut", "fall"})

#: Error codes and the HTTP status each is answered with.
ERRORS: Mapping[str, int] = {"bad_request": 400, "bad_signature": 401, "unknown_device": 403,
                             "too_large": 413, "unavailable": 503}


def sign(secret: str, body: bytes) -> str:
    """HMAC-SHA256 of ``body`` with the device secret, as 64 lower-case hex digits."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str) -> bool:
    return bool(secret) and hmac.compare_digest(sign(secret, body), signature.strip().lower())


@dataclass(frozen=True, slots=True)
class CommandResult:
    id: int
    status: str
    detail: str = ""


def peek_device(body: bytes) -> str:
    """The device id of a batch body, before its signature is checked (to find the secret)."""
    data = _load(body)
    device = data.get("device")
    if not isinstance(device, str) or not device or len(device) > 64:
        raise FrameError("device must be a non-empty string of at most 64 characters")
    return device


def _load(body: bytes) -> Mapping[str, Any]:
    if len(body) > MAX_BODY:
        raise FrameError(f"batch body too large: {len(body)} bytes (limit {MAX_BODY})", http_status=413)
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise FrameError("batch body is not valid UTF-8 JSON") from None
    if not isinstance(data, Mapping):
        raise FrameError("batch body must be a JSON object")
    return data


def decode_batch(body: bytes, *, raw: bytes | None = None) -> Decoded:
    """Decode a batch body (whose signature the caller has verified) into a message with one record per
    report; ``info["seqs"]`` lists the reports' ``seq`` values and ``info["command_results"]`` the results."""
    data = _load(body)
    if data.get("v") != VERSION:
        raise FrameError(f"unsupported protocol version {data.get('v')!r} (this server speaks {VERSION})")
    device = peek_device(body)
    reports = data.get("reports", [])
    if not isinstance(reports, list):
        raise FrameError("reports must be a list")
    if len(reports) > MAX_REPORTS:
        raise FrameError(f"{len(reports)} reports in one batch (limit {MAX_REPORTS})", http_status=413)
    records = tuple(_record(r, i) for i, r in enumerate(reports))
    seqs = [r.seq for r in records]
    if len(set(seqs)) != len(seqs):
        raise FrameError("the same seq appears twice in one batch")
    results: list[CommandResult] = []
    raw_results = data.get("command_results", [])
    if not isinstance(raw_results, list):
        raise FrameError("command_results must be a list")
    for item in raw_results:
        if not isinstance(item, Mapping) or not isinstance(item.get("id"), int) or isinstance(item.get("id"), bool):
            raise FrameError("each command result needs an integer id")
        status = item.get("status")
        if status not in ("done", "failed"):
            raise FrameError(f"command result status must be 'done' or 'failed', got {status!r}")
        results.append(CommandResult(item["id"], status, str(item.get("detail", ""))[:200]))
    info = {"seqs": seqs, "command_results": results, "sent": data.get("sent")}
    return Decoded(PROTOCOL, "batch", raw if raw is not None else body, device, records, None, info)


def _number(item: Mapping[str, Any], name: str, where: str) -> float | None:
    value = item.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise FrameError(f"{where}: {name} must be a finite number, got {value!r}")
    return float(value)


def _record(item: Any, index: int) -> Record:
    where = f"report {index}"
    if not isinstance(item, Mapping):
        raise FrameError(f"{where}: must be a JSON object")
    seq = item.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq < 2**63:
        raise FrameError(f"{where}: seq must be a non-negative integer, got {seq!r}")
    time_text = item.get("time")
    if not isinstance(time_text, str):
        raise FrameError(f"{where}: time must be an RFC 3339 string")
    try:
        time = datetime.fromisoformat(time_text.replace("Z", "+00:00"))
    except ValueError:
        raise FrameError(f"{where}: time {time_text!r} is not RFC 3339") from None
    if time.tzinfo is None:
        raise FrameError(f"{where}: time {time_text!r} has no time zone")
    lat, lon = _number(item, "lat", where), _number(item, "lon", where)
    if (lat is None) != (lon is None):
        raise FrameError(f"{where}: lat and lon must both be present or both absent")
    if lat is not None and lon is not None and not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise FrameError(f"{where}: coordinates out of range ({lat}, {lon})")
    source = item.get("source", "gps" if lat is not None else "none")
    if source not in SOURCES:
        raise FrameError(f"{where}: unknown source {source!r}")
    battery = _number(item, "battery_pct", where)
    if battery is not None and not 0 <= battery <= 100:
        raise FrameError(f"{where}: battery_pct must be 0..100, got {battery}")
    accuracy = _number(item, "accuracy_m", where)
    if accuracy is not None and accuracy < 0:
        raise FrameError(f"{where}: accuracy_m must not be negative")
    closures = {}
    for name in ("strap", "case"):
        value = item.get(name)
        if value is not None and value not in ("open", "closed"):
            raise FrameError(f"{where}: {name} must be 'open' or 'closed', got {value!r}")
        closures[name] = value
    events = item.get("events", [])
    if not isinstance(events, list) or not all(isinstance(e, str) and e in EVENTS for e in events):
        raise FrameError(f"{where}: events must be a list of known event names ({', '.join(sorted(EVENTS))})")
    charging = item.get("charging")
    if charging is not None and not isinstance(charging, bool):
        raise FrameError(f"{where}: charging must be true or false")
    sats = item.get("satellites")
    if sats is not None and (not isinstance(sats, int) or isinstance(sats, bool) or sats < 0):
        raise FrameError(f"{where}: satellites must be a non-negative integer")
    return Record(time=time.astimezone(UTC), lat=lat, lon=lon, valid=lat is not None, satellites=sats,
                  speed_kmh=_number(item, "speed_kmh", where), course_deg=_number(item, "heading_deg", where),
                  altitude_m=_number(item, "altitude_m", where), accuracy_m=accuracy, battery_pct=battery,
                  charging=charging, seq=seq, source=source, strap=closures["strap"], case=closures["case"],
                  events=tuple(events))


def _rfc3339(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def encode_ack(device: str, acked: Sequence[int], commands: Sequence[Mapping[str, Any]], *,
               server_time: datetime) -> bytes:
    """The acknowledgement body: exactly the durable ``seq`` values, and the commands for the device."""
    return json.dumps({"v": VERSION, "device": device, "acked": sorted(acked), "commands": list(commands),
                       "server_time": _rfc3339(server_time)}, separators=(",", ":")).encode()


def encode_error(code: str, reason: str, *, retry_after_s: int | None = None) -> bytes:
    body: dict[str, Any] = {"v": VERSION, "error": code, "reason": reason}
    if retry_after_s is not None:
        body["retry_after_s"] = retry_after_s
    return json.dumps(body, separators=(",", ":")).encode()


def decode_ack(body: bytes) -> dict[str, Any]:
    data = _load(body)
    if "error" in data:
        raise FrameError(f"server refused the batch: {data.get('error')}: {data.get('reason')}")
    return dict(data)


# -- TCP framing ------------------------------------------------------------------------------------------------


def encode_frame(kind: int, body: bytes, secret: str | None) -> bytes:
    mac = bytes.fromhex(sign(secret, body)) if secret else bytes(32)
    return MAGIC + bytes([VERSION, kind]) + struct.pack(">I", len(body)) + mac + body


def next_frame(buf: bytes | bytearray, *, max_frame: int = MAX_BODY + HEADER) -> int | None:
    if len(buf) < 2:
        if buf and buf[0] != MAGIC[0]:
            raise FrameError("bad magic: Kuzet frames start with 'KZ'")
        return None
    if bytes(buf[:2]) != MAGIC:
        raise FrameError(f"bad magic 0x{bytes(buf[:2]).hex()}: Kuzet frames start with 'KZ'")
    if len(buf) < 8:
        return None
    if buf[2] != VERSION:
        raise FrameError(f"unsupported frame version {buf[2]}")
    (length,) = struct.unpack_from(">I", buf, 4)
    if HEADER + length > max_frame:
        raise FrameError(f"frame too large: {length} body bytes (limit {max_frame - HEADER})", http_status=413)
    total = HEADER + length
    return total if len(buf) >= total else None


def decode_frame(frame: bytes) -> tuple[int, str, bytes]:
    """``(type, signature hex, body)`` of one complete TCP frame."""
    frame = bytes(frame)
    total = next_frame(frame)
    if total is None or total != len(frame):
        raise FrameError(f"frame truncated or padded: {len(frame)} bytes")
    return frame[3], frame[8:40].hex(), frame[40:]


# -- device side --------------------------------------------------------------------------------------------------


def report_json(report: DeviceReport) -> dict[str, Any]:
    if report.seq is None:
        raise ValueError("a Kuzet report needs a seq")
    out: dict[str, Any] = {"seq": report.seq, "time": _rfc3339(report.time)}
    if report.lat is not None and report.lon is not None:
        out.update(lat=report.lat, lon=report.lon, source=report.source.value)
    else:
        out["source"] = "beacon" if report.source.value == "beacon" else "none"
    for name in ("accuracy_m", "satellites", "speed_kmh", "heading_deg", "altitude_m", "battery_pct", "charging"):
        value = getattr(report, name)
        if value is not None:
            out[name] = value
    if report.strap is not None:
        out["strap"] = report.strap.value
    if report.case is not None:
        out["case"] = report.case.value
    out["events"] = [e for e in report.events if e in EVENTS]
    return out


def encode_batch(device: str, reports: Sequence[DeviceReport], *, sent: datetime,
                 command_results: Sequence[CommandResult] = ()) -> bytes:
    """A batch body for ``reports`` (each with its ``seq``)."""
    return json.dumps({"v": VERSION, "device": device, "sent": _rfc3339(sent),
                       "reports": [report_json(r) for r in reports],
                       "command_results": [{"id": c.id, "status": c.status, "detail": c.detail}
                                           for c in command_results]},
                      separators=(",", ":")).encode()


def encode_mqtt(secret: str, body: bytes) -> bytes:
    """An MQTT message: the signature's 64 hex digits, a newline, the body."""
    return sign(secret, body).encode("ascii") + b"\n" + body


def decode_mqtt(payload: bytes) -> tuple[str, bytes]:
    head, sep, body = bytes(payload).partition(b"\n")
    if not sep or len(head) != 64:
        raise FrameError("MQTT message must be a 64-hex-digit signature, a newline and the batch body")
    try:
        return head.decode("ascii"), body
    except UnicodeDecodeError:
        raise FrameError("MQTT signature line is not ASCII") from None


def encode_reply(message: Decoded) -> bytes | None:
    return message.reply
