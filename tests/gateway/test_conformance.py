"""Every sample of the shared conformance corpus: decoded values, reply bytes, rejections with a reason."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import pytest

from kuzet.gateway.codecs import FrameError, gt06, h02, teltonika, watch

from .conformance import SAMPLES, decode_sample, observed, wire_bytes

TOLERANCE = {"lat": 1e-5, "lon": 1e-5, "speed_kmh": 0.01, "course_deg": 0.01, "altitude_m": 0.01,
             "accuracy_m": 0.01, "body_temp_c": 0.01}
#: Keys of ``expect`` this suite compares outside the generic loop, or that describe the sample itself.
SPECIAL = {"alarm", "location", "error", "positions", "http_status", "purpose"}


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def assert_matches(expect: dict[str, Any], got: dict[str, Any], where: str) -> None:
    for key, want in expect.items():
        if key in SPECIAL:
            continue
        if key in ("reply_hex", "reply_text"):
            assert got.get(key) == want, f"{where}: {key}"
            continue
        assert key in got, f"{where}: decoder produced no {key!r}"
        value = got[key]
        if want is None:
            assert value is None, f"{where}: {key} must have no value, got {value!r}"
        elif key == "time":
            assert value == _parse_time(want), f"{where}: time {value} != {want}"
        elif key in TOLERANCE:
            assert value is not None and math.isclose(value, want, abs_tol=TOLERANCE[key]), \
                f"{where}: {key} {value} != {want}"
        else:
            assert value == want, f"{where}: {key} {value!r} != {want!r}"
    if "alarm" in expect:
        if expect["alarm"] is None:
            assert got["alarms"] == [], f"{where}: no alarm expected, got {got['alarms']}"
        else:
            assert expect["alarm"] in got["alarms"], f"{where}: alarm {expect['alarm']} not in {got['alarms']}"
    if "location" in expect:
        assert not got["has_location"], f"{where}: a message without a location produced coordinates"
    for i, position in enumerate(expect.get("positions", [])):
        assert_matches(position, got["positions"][i], f"{where} record {i + 1}")


def _encode_server_reply(protocol: str, expect: dict[str, Any]) -> bytes:
    if protocol == "teltonika":
        if "text" in expect:
            return teltonika.encode_command(expect["text"], kind=expect["type"])
        return teltonika.encode_command(payload=bytes.fromhex(expect["payload_hex"]), kind=expect["type"])
    if protocol == "gt06":
        return gt06.encode_command(expect["command_text"], serial=expect["serial"],
                                   server_flag=int(expect["server_flag_hex"], 16))
    if protocol == "h02":
        return h02.encode_command(expect["device_id"], expect["command"], expect["fields"])
    if protocol == "watch":
        return watch.encode_command("CS", expect["device_id"], expect["content"])
    raise AssertionError(f"no encoder for {protocol}")


@pytest.mark.parametrize(("protocol", "sample"), SAMPLES, ids=[s["id"] for _, s in SAMPLES])
def test_conformance_sample(protocol: str, sample: dict[str, Any]) -> None:
    expect = sample["expect"]
    sid = sample["id"]
    if expect.get("error"):
        with pytest.raises(FrameError) as caught:
            decode_sample(protocol, sample)
        assert caught.value.reason, f"{sid}: rejected without a reason"
        if "http_status" in expect:
            assert caught.value.http_status == expect["http_status"]
        return
    if sample.get("crc_valid") is False:
        with pytest.raises(FrameError, match="CRC mismatch"):
            decode_sample(protocol, sample)
        flagged = decode_sample(protocol, sample, check_crc=False)
        assert flagged.crc_valid is False
        assert_matches({k: v for k, v in expect.items() if k not in ("reply_hex",)}, observed(flagged), sid)
        return
    message = decode_sample(protocol, sample)
    if sample.get("crc_valid") is True:
        assert message.crc_valid is True
    got = observed(message)
    if sample["kind"] == "server_reply":
        assert _encode_server_reply(protocol, expect).hex() == wire_bytes(sample).hex()
    assert_matches(expect, got, sid)
    if "http_status" in expect:
        assert got["http_status"] == expect["http_status"]
    if "length_field_matches" in sample:
        assert got["length_field_matches"] == sample["length_field_matches"]


def test_the_corpus_is_all_there() -> None:
    protocols = {p for p, _ in SAMPLES}
    assert protocols == {"teltonika", "gt06", "h02", "watch", "osmand"}
    assert len(SAMPLES) == 85
