"""Reading the shared conformance corpus and turning a decoded message into the corpus's ``expect`` terms."""

from __future__ import annotations

import json
from typing import Any

from kuzet.gateway.codecs import Decoded, FrameError, gt06, h02, osmand, teltonika, watch
from tests.conftest import CONFORMANCE

SAMPLES: list[tuple[str, dict[str, Any]]] = [
    (f.stem, s) for f in sorted(CONFORMANCE.glob("*.json")) for s in json.loads(f.read_text())["samples"]
]

TCP_CODECS: dict[str, Any] = {"teltonika": teltonika, "gt06": gt06, "h02": h02, "watch": watch}


def wire_bytes(sample: dict[str, Any]) -> bytes:
    if sample.get("raw_hex") is not None:
        return bytes.fromhex(sample["raw_hex"])
    return str(sample["raw_text"]).encode("latin-1")


def decode_sample(protocol: str, sample: dict[str, Any], *, check_crc: bool = True) -> Decoded:
    if protocol == "osmand":
        return osmand.decode(sample["method"], sample["path_and_query"], sample["content_type"], sample["body"])
    codec = TCP_CODECS[protocol]
    if protocol in ("teltonika", "gt06"):
        return codec.decode(wire_bytes(sample), check_crc=check_crc)  # type: ignore[no-any-return]
    return codec.decode(wire_bytes(sample))  # type: ignore[no-any-return]


def record_values(message: Decoded, index: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if index < len(message.records):
        r = message.records[index]
        out.update(time=r.time, lat=r.lat, lon=r.lon, speed_kmh=r.speed_kmh, course_deg=r.course_deg,
                   altitude_m=r.altitude_m, accuracy_m=r.accuracy_m, satellites=r.satellites, valid=r.valid,
                   battery_pct=r.battery_pct)
        for key in ("priority", "event_io_id", "io", "status_hex", "hdop", "mock", "cells", "wifi", "extras"):
            if key in r.extra:
                out[key] = r.extra[key]
    return out


def observed(message: Decoded) -> dict[str, Any]:
    """Every value the corpus may ask about, from a decoded message."""
    out = record_values(message)
    info = message.info
    out["device_id"] = message.device_id
    out["alarms"] = [a for r in message.records for a in r.alarms]
    out["has_location"] = any(r.lat is not None for r in message.records)
    for key in ("records", "codec", "type", "text", "payload_hex", "driver_id", "battery_level", "gsm_level",
                "charging", "ignition", "body_temp_c", "spo2_pct", "unescaped_hex", "http_status",
                "command_text", "server_flag_hex", "serial", "command", "fields", "content",
                "length_field_matches"):
        if key in info:
            out[key] = info[key]
    if "time" in info and not message.records:
        out["time"] = info["time"]
    if message.reply is not None:
        out["reply_hex"] = message.reply.hex()
        out["reply_text"] = message.reply.decode("latin-1")
    if "per_record" in info:
        out["positions"] = [{**record_values(message, i)} for i in range(len(message.records))]
    return out


__all__ = ["SAMPLES", "TCP_CODECS", "FrameError", "decode_sample", "observed", "wire_bytes"]
