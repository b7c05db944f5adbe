"""OsmAnd / Traccar Client over HTTP: query-string reports and JSON (background-geolocation) reports. Pure.

Query form: ``id`` (or ``deviceid``), ``lat``/``lon`` or ``location=lat,lon``, ``timestamp`` (UNIX seconds,
UNIX milliseconds or ISO 8601), optional ``speed`` (knots, as Traccar Client sends), ``bearing``/``heading``,
``altitude``, ``accuracy``, ``hdop``, ``batt``, ``charge``, ``valid``, repeatable ``cell=mcc,mnc,lac,cid[,rssi]``
and ``wifi=mac,rssi``, and ``alarm`` (e.g. ``sos``). JSON form: ``{device_id, location: {timestamp, coords:
{latitude, longitude, accuracy, speed m/s, heading, altitude}, battery: {level 0..1, is_charging}, extras,
mock}}``, where -1 means unknown. A request without a device id is refused with HTTP 400.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from kuzet.domain.reports import DeviceReport

from .common import KNOTS_TO_KMH, Decoded, FrameError, Record

PROTOCOL = "osmand"
MAX_BODY = 64 * 1024
_ALARM_WORDS = {"sos": "sos", "tampering": "tamper", "tamper": "tamper", "removing": "strap_open",
                "strap_open": "strap_open", "lowbattery": "battery_low", "battery_low": "battery_low",
                "powercut": "power_cut", "power_cut": "power_cut", "jamming": "jamming", "fall": "fall"}


def decode(method: str, path_and_query: str, content_type: str | None, body: bytes | str) -> Decoded:
    """Decode one HTTP request; :class:`FrameError` carries the HTTP status to answer (400)."""
    raw_body = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    if len(raw_body) > MAX_BODY:
        raise FrameError(f"request body too large: {len(raw_body)} bytes", http_status=413)
    raw = f"{method} {path_and_query}\r\n\r\n".encode() + raw_body
    if content_type and content_type.split(";")[0].strip().lower() == "application/json":
        return _decode_json(raw_body, raw)
    params = parse_qsl(urlsplit(path_and_query).query, keep_blank_values=True)
    if method.upper() == "POST" and raw_body:
        try:
            params += parse_qsl(raw_body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            raise FrameError("form body is not UTF-8") from None
    return _decode_query(params, raw)


def _num(value: Any, what: str) -> float:
    if isinstance(value, bool):
        raise FrameError(f"{what} must be a number, got {value!r}")
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise FrameError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(result):
        raise FrameError(f"{what} must be finite, got {value!r}")
    return result


def _time(text: str) -> datetime:
    if text.lstrip("-").isdigit():
        value = int(text)
        seconds = value / 1000 if abs(value) > 100_000_000_000 else float(value)
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            raise FrameError(f"timestamp {text!r} is out of range") from None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise FrameError(f"timestamp {text!r} is neither UNIX time nor ISO 8601") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _check_position(lat: float, lon: float) -> None:
    if not -90 <= lat <= 90:
        raise FrameError(f"latitude {lat} is outside -90..90")
    if not -180 <= lon <= 180:
        raise FrameError(f"longitude {lon} is outside -180..180")


def _decode_query(params: list[tuple[str, str]], raw: bytes) -> Decoded:
    single: dict[str, str] = {}
    cells: list[dict[str, int]] = []
    wifi: list[dict[str, Any]] = []
    for key, value in params:
        if key == "cell":
            parts = value.split(",")
            if len(parts) not in (4, 5):
                raise FrameError(f"cell {value!r} is not mcc,mnc,lac,cid[,rssi]")
            try:
                numbers = [int(p) for p in parts]
            except ValueError:
                raise FrameError(f"cell {value!r} has a non-integer field") from None
            cell = dict(zip(("mcc", "mnc", "lac", "cid", "rssi"), numbers, strict=False))
            cells.append(cell)
        elif key == "wifi":
            parts = value.split(",")
            if len(parts) != 2:
                raise FrameError(f"wifi {value!r} is not mac,rssi")
            try:
                wifi.append({"mac": parts[0].replace("-", ":").lower(), "rssi": int(parts[1])})
            except ValueError:
                raise FrameError(f"wifi {value!r} has a non-integer rssi") from None
        else:
            single[key] = value
    device = single.get("id") or single.get("deviceid")
    if not device:
        raise FrameError("no device id: the id (or deviceid) parameter is missing")
    time = _time(single["timestamp"]) if single.get("timestamp") else None
    lat = lon = None
    if "location" in single:
        parts = single["location"].split(",")
        if len(parts) != 2:
            raise FrameError(f"location {single['location']!r} is not lat,lon")
        lat, lon = _num(parts[0], "latitude"), _num(parts[1], "longitude")
    elif "lat" in single or "lon" in single:
        lat, lon = _num(single.get("lat"), "latitude"), _num(single.get("lon"), "longitude")
    if lat is not None and lon is not None:
        _check_position(lat, lon)
    extra: dict[str, Any] = {}
    if cells:
        extra["cells"] = cells
    if wifi:
        extra["wifi"] = wifi
    if "hdop" in single:
        extra["hdop"] = _num(single["hdop"], "hdop")
    valid = lat is not None and single.get("valid", "true").lower() not in ("false", "0")
    alarms: tuple[str, ...] = ()
    if single.get("alarm"):
        word = _ALARM_WORDS.get(single["alarm"].lower())
        alarms = (word,) if word else ()
    battery = _num(single["batt"], "batt") if single.get("batt") else None
    record = Record(
        time=time, lat=lat, lon=lon, valid=valid,
        speed_kmh=_num(single["speed"], "speed") * KNOTS_TO_KMH if single.get("speed") else None,
        course_deg=_num(single.get("bearing") or single["heading"], "bearing")
        if single.get("bearing") or single.get("heading") else None,
        altitude_m=_num(single["altitude"], "altitude") if single.get("altitude") else None,
        accuracy_m=_num(single["accuracy"], "accuracy") if single.get("accuracy") else None,
        battery_pct=battery if battery is not None and 0 <= battery <= 100 else None,
        charging=single["charge"].lower() == "true" if "charge" in single else None,
        alarms=alarms, source="gps" if lat is not None else "none", extra=extra)
    return Decoded(PROTOCOL, "position", raw, device, (record,), None, {"http_status": 200, **extra})


def _decode_json(body: bytes, raw: bytes) -> Decoded:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise FrameError("body is not valid JSON") from None
    if not isinstance(data, Mapping):
        raise FrameError("JSON body must be an object")
    device = data.get("device_id")
    if not isinstance(device, str | int) or isinstance(device, bool) or device == "":
        raise FrameError("no device id: device_id is missing")
    location = data.get("location")
    if not isinstance(location, Mapping):
        raise FrameError("location object is missing")
    coords = location.get("coords")
    if not isinstance(coords, Mapping):
        raise FrameError("location.coords object is missing")
    ts = location.get("timestamp")
    time = _time(str(ts)) if ts is not None else None

    def known(name: str, scale: float = 1.0) -> float | None:
        value = coords.get(name)
        if value is None:
            return None
        number = _num(value, name)
        return None if number < 0 and name in ("speed", "heading", "accuracy") else number * scale

    lat = _num(coords.get("latitude"), "latitude")
    lon = _num(coords.get("longitude"), "longitude")
    _check_position(lat, lon)
    battery_pct = charging = None
    battery = location.get("battery")
    if isinstance(battery, Mapping):
        level = battery.get("level")
        if level is not None and _num(level, "battery level") >= 0:
            battery_pct = round(min(_num(level, "battery level"), 1.0) * 100, 1)
        if isinstance(battery.get("is_charging"), bool):
            charging = battery["is_charging"]
    extras = location.get("extras")
    extra: dict[str, Any] = {}
    if isinstance(extras, Mapping):
        extra["extras"] = dict(extras)
    if "mock" in location:
        extra["mock"] = bool(location.get("mock"))
    if isinstance(location.get("event"), str):
        extra["event"] = location["event"]
    record = Record(time=time, lat=lat, lon=lon, valid=True, speed_kmh=known("speed", 3.6),
                    course_deg=known("heading"), altitude_m=known("altitude"), accuracy_m=known("accuracy"),
                    battery_pct=battery_pct, charging=charging, source="gps", extra=extra)
    return Decoded(PROTOCOL, "position", raw, str(device), (record,), None, {"http_status": 200, **extra})


def encode_reply(message: Decoded) -> bytes | None:
    return None


# -- client side ---------------------------------------------------------------------------------------------


def encode_query(report: DeviceReport) -> str:
    """The path and query a phone would request for ``report`` (speed in knots, as Traccar Client sends)."""
    params: dict[str, str] = {"id": report.device, "timestamp": str(int(report.time.timestamp()))}
    if report.lat is not None and report.lon is not None:
        params["lat"], params["lon"] = repr(report.lat), repr(report.lon)
    if report.speed_kmh is not None:
        params["speed"] = repr(report.speed_kmh / KNOTS_TO_KMH)
    if report.heading_deg is not None:
        params["bearing"] = repr(report.heading_deg)
    if report.altitude_m is not None:
        params["altitude"] = repr(report.altitude_m)
    if report.accuracy_m is not None:
        params["accuracy"] = repr(report.accuracy_m)
    if report.battery_pct is not None:
        params["batt"] = repr(report.battery_pct)
    if report.charging is not None:
        params["charge"] = "true" if report.charging else "false"
    if "sos" in report.events:
        params["alarm"] = "sos"
    return "/?" + urlencode(params)


def encode_json(report: DeviceReport) -> bytes:
    """A Traccar Client JSON body for ``report`` (speed in m/s, battery level 0..1)."""
    coords: dict[str, Any] = {"latitude": report.lat, "longitude": report.lon,
                              "accuracy": -1 if report.accuracy_m is None else report.accuracy_m,
                              "speed": -1 if report.speed_kmh is None else report.speed_kmh / 3.6,
                              "heading": -1 if report.heading_deg is None else report.heading_deg,
                              "altitude": report.altitude_m or 0}
    battery = {"level": -1 if report.battery_pct is None else report.battery_pct / 100,
               "is_charging": bool(report.charging)}
    ts = report.time.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return json.dumps({"device_id": report.device, "location": {"timestamp": ts, "coords": coords,
                                                                "battery": battery, "extras": {}}}).encode()
