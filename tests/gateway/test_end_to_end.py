"""Real frames over real sockets on 127.0.0.1: ACK only after the reports are stored, unknown devices refused
and listed, a failing sink means no ACK, commands delivered on connection, limits and timeouts."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from kuzet.domain.enums import Closure, Source
from kuzet.domain.reports import DeviceReport
from kuzet.gateway import Gateway, StoreSink, queue_command
from kuzet.gateway.codecs import gt06, kuzet, osmand, teltonika, watch
from kuzet.gateway.models import DeviceCommand
from kuzet.store.db import make_engine, session_factory, transaction
from kuzet.store.models import DeviceReportRecord, UnknownDevice

from .conftest import (
    GT06,
    H02,
    KUZET,
    KUZET_SECRET,
    OSMAND,
    TELTONIKA,
    TELTONIKA_UNASSIGNED,
    WATCH,
    Fleet,
    gateway_config,
)

T0 = datetime(2026, 11, 2, 17, 0, tzinfo=UTC)


def fix(serial: str, i: int = 0, **kw: object) -> DeviceReport:
    base: dict[str, object] = dict(device=serial, time=T0 + timedelta(seconds=30 * i), received=T0, seq=i,
                                   lat=43.2389 + i * 1e-4, lon=76.8897, accuracy_m=8.0, source=Source.GPS,
                                   satellites=9, speed_kmh=3.0, heading_deg=90.0, battery_pct=80.0)
    base.update(kw)
    return DeviceReport(**base)  # type: ignore[arg-type]


def stored(fleet: Fleet, serial: str) -> list[DeviceReportRecord]:
    with fleet.sessions() as s:
        return list(s.execute(select(DeviceReportRecord).where(DeviceReportRecord.device == serial)
                              .order_by(DeviceReportRecord.id)).scalars())


async def connect(gw: Gateway, name: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", gw.ports[name])


async def closed(reader: asyncio.StreamReader, within_s: float = 5.0) -> bool:
    data = await asyncio.wait_for(reader.read(), within_s)
    return data == b""


async def test_a_teltonika_device_is_acknowledged_after_its_records_are_stored(gateway: Gateway,
                                                                                fleet: Fleet) -> None:
    reader, writer = await connect(gateway, "teltonika")
    writer.write(teltonika.encode_login(TELTONIKA))
    assert await asyncio.wait_for(reader.readexactly(1), 5) == b"\x01"
    frame = teltonika.encode_avl([fix(TELTONIKA, 0), fix(TELTONIKA, 1, strap=Closure.OPEN,
                                                           events=("strap_open",))], codec=0x8E)
    writer.write(frame)
    assert await asyncio.wait_for(reader.readexactly(4), 5) == b"\x00\x00\x00\x02"
    rows = stored(fleet, TELTONIKA)
    assert len(rows) == 2
    assert all(r.person_id == fleet.person_id and r.protocol == "teltonika" and r.raw == frame for r in rows)
    assert rows[1].strap == "open" and "strap_open" in rows[1].events
    assert rows[0].lat == pytest.approx(43.2389, abs=1e-6)
    writer.close()


async def test_a_device_assigned_to_no_one_is_stored_without_a_person(gateway: Gateway, fleet: Fleet) -> None:
    reader, writer = await connect(gateway, "teltonika")
    writer.write(teltonika.encode_login(TELTONIKA_UNASSIGNED) + teltonika.encode_avl([fix(TELTONIKA_UNASSIGNED)]))
    assert await asyncio.wait_for(reader.readexactly(5), 5) == b"\x01\x00\x00\x00\x01"
    assert [r.person_id for r in stored(fleet, TELTONIKA_UNASSIGNED)] == [None]
    writer.close()


async def test_an_unknown_device_is_refused_and_listed_for_an_administrator(gateway: Gateway,
                                                                            fleet: Fleet) -> None:
    for _ in range(2):
        reader, writer = await connect(gateway, "teltonika")
        writer.write(teltonika.encode_login("999999999999999"))
        assert await asyncio.wait_for(reader.readexactly(1), 5) == b"\x00"
        assert await closed(reader)
        writer.close()
    reader, writer = await connect(gateway, "gt06")
    writer.write(gt06.encode_login("888888888888888"))
    assert await closed(reader)
    with fleet.sessions() as s:
        listed = {u.serial: u for u in s.execute(select(UnknownDevice)).scalars()}
    assert listed["999999999999999"].attempts == 2 and listed["999999999999999"].protocol == "teltonika"
    assert listed["888888888888888"].protocol == "gt06"
    assert stored(fleet, "999999999999999") == []


async def test_when_the_sink_fails_the_device_gets_no_ack_and_keeps_its_records(fleet: Fleet) -> None:
    broken = session_factory(make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none",
                                         connect_args={"connect_timeout": 1}))
    gw = Gateway(StoreSink(broken), config=gateway_config(), database_url=fleet.url)
    await gw.start()
    try:
        reader, writer = await connect(gw, "teltonika")
        writer.write(teltonika.encode_login(TELTONIKA))
        assert await asyncio.wait_for(reader.readexactly(1), 5) == b"\x01"
        writer.write(teltonika.encode_avl([fix(TELTONIKA)]))
        assert await asyncio.wait_for(reader.read(), 10) == b""  # closed without an acknowledgement
        assert gw.stats.sink_failures == 1
        status, _ = await _kuzet_http(gw, [fix(KUZET, 1)])
        assert status == 503
    finally:
        await gw.stop()
    assert stored(fleet, TELTONIKA) == []


async def test_gt06_login_alarm_and_locate_now(gateway: Gateway, fleet: Fleet) -> None:
    with transaction(fleet.sessions) as s:
        command_id = queue_command(s, GT06, "locate").id
    reader, writer = await connect(gateway, "gt06")
    writer.write(gt06.encode_login(GT06, serial=1))
    login_ack = await asyncio.wait_for(reader.readexactly(10), 5)
    assert login_ack == gt06.encode_ack(0x01, 1)
    command = gt06.decode(await asyncio.wait_for(reader.readuntil(b"\r\n"), 5))
    assert command.kind == "server_reply" and command.info["command_text"] == gt06.LOCATE_COMMAND
    writer.write(gt06.encode_report(fix(GT06, case=Closure.OPEN, events=("case_open",)), serial=2))
    assert await asyncio.wait_for(reader.readexactly(10), 5) == gt06.encode_ack(0x16, 2)
    writer.write(gt06.encode_command_response("Lat:N43.2389,Lon:E76.8897", serial=3,
                                              server_flag=int(command.info["server_flag_hex"], 16)))
    await asyncio.sleep(0.3)
    rows = stored(fleet, GT06)
    assert len(rows) == 1 and rows[0].case == "open" and "case_open" in rows[0].events
    with fleet.sessions() as s:
        assert s.get(DeviceCommand, command_id).status == "acknowledged"  # type: ignore[union-attr]
    writer.close()


async def test_teltonika_locate_now_goes_out_as_a_codec_12_command(gateway: Gateway, fleet: Fleet) -> None:
    with transaction(fleet.sessions) as s:
        command_id = queue_command(s, TELTONIKA, "locate").id
    reader, writer = await connect(gateway, "teltonika")
    writer.write(teltonika.encode_login(TELTONIKA))
    assert await asyncio.wait_for(reader.readexactly(1), 5) == b"\x01"
    header = await asyncio.wait_for(reader.readexactly(8), 5)
    frame = header + await reader.readexactly(int.from_bytes(header[4:], "big") + 4)
    command = teltonika.decode(frame)
    assert command.info["codec"] == 12 and command.info["text"] == teltonika.LOCATE_COMMAND
    writer.write(teltonika.encode_command("record generated", kind=6) + teltonika.encode_avl([fix(TELTONIKA)]))
    assert await asyncio.wait_for(reader.readexactly(4), 5) == b"\x00\x00\x00\x01"
    with fleet.sessions() as s:
        assert s.get(DeviceCommand, command_id).status == "acknowledged"  # type: ignore[union-attr]
    writer.close()


async def _kuzet_http(gw: Gateway, reports: list[DeviceReport], secret: str = KUZET_SECRET,
                      results: tuple[kuzet.CommandResult, ...] = ()) -> tuple[int, dict[str, object]]:
    body = kuzet.encode_batch(KUZET, reports, sent=T0, command_results=results)
    async with httpx.AsyncClient() as client:
        response = await client.post(f"http://127.0.0.1:{gw.ports['kuzet_https']}/kuzet/v1/batch", content=body,
                                     headers={"X-Kuzet-Signature": kuzet.sign(secret, body),
                                              "Content-Type": "application/json"})
    if response.status_code == 200:
        assert response.headers["X-Kuzet-Signature"] == kuzet.sign(KUZET_SECRET, response.content)
    return response.status_code, response.json()


async def test_kuzet_over_http_acknowledges_exactly_what_was_stored_and_a_resend_is_idempotent(
        gateway: Gateway, fleet: Fleet) -> None:
    batch = [fix(KUZET, i) for i in range(5)]
    status, ack = await _kuzet_http(gateway, batch)
    assert status == 200 and ack["acked"] == [0, 1, 2, 3, 4]
    status, ack = await _kuzet_http(gateway, [*batch[3:], fix(KUZET, 5)])  # the ACK was lost: resend
    assert status == 200 and ack["acked"] == [3, 4, 5]
    assert [r.seq for r in stored(fleet, KUZET)] == [0, 1, 2, 3, 4, 5]
    status, err = await _kuzet_http(gateway, [fix(KUZET, 6)], secret="wrong-secret")
    assert status == 401 and err["error"] == "bad_signature"
    assert len(stored(fleet, KUZET)) == 6


async def test_kuzet_locate_now_is_delivered_in_the_ack_and_confirmed_in_the_next_batch(
        gateway: Gateway, fleet: Fleet) -> None:
    with transaction(fleet.sessions) as s:
        command_id = queue_command(s, KUZET, "locate").id
    status, ack = await _kuzet_http(gateway, [])
    assert status == 200 and ack["commands"] == [{"id": command_id, "kind": "locate", "payload": {}}]
    status, ack = await _kuzet_http(gateway, [fix(KUZET, 0)], results=(kuzet.CommandResult(command_id, "done"),))
    assert status == 200 and ack["commands"] == []
    with fleet.sessions() as s:
        assert s.get(DeviceCommand, command_id).status == "acknowledged"  # type: ignore[union-attr]


async def test_kuzet_over_tcp_signed_frames_and_unknown_device(gateway: Gateway, fleet: Fleet) -> None:
    reader, writer = await connect(gateway, "kuzet_tcp")
    for first in (0, 10):
        body = kuzet.encode_batch(KUZET, [fix(KUZET, i) for i in range(first, first + 10)], sent=T0)
        writer.write(kuzet.encode_frame(kuzet.TYPE_BATCH, body, KUZET_SECRET))
        head = await asyncio.wait_for(reader.readexactly(kuzet.HEADER), 5)
        kind, signature, reply = kuzet.decode_frame(head + await reader.readexactly(int.from_bytes(head[4:8], "big")))
        assert kind == kuzet.TYPE_ACK and kuzet.verify(KUZET_SECRET, reply, signature)
        assert kuzet.decode_ack(reply)["acked"] == list(range(first, first + 10))
    writer.close()
    assert len(stored(fleet, KUZET)) == 20
    reader, writer = await connect(gateway, "kuzet_tcp")
    body = kuzet.encode_batch("KZ-UNKNOWN", [fix("KZ-UNKNOWN", 0)], sent=T0)
    writer.write(kuzet.encode_frame(kuzet.TYPE_BATCH, body, "whatever"))
    head = await asyncio.wait_for(reader.readexactly(kuzet.HEADER), 5)
    kind, _, reply = kuzet.decode_frame(head + await reader.readexactly(int.from_bytes(head[4:8], "big")))
    assert kind == kuzet.TYPE_ERROR and b"unknown_device" in reply
    assert await closed(reader)


async def test_osmand_phone_reports_over_http(gateway: Gateway, fleet: Fleet) -> None:
    base = f"http://127.0.0.1:{gateway.ports['osmand']}"
    async with httpx.AsyncClient() as client:
        ok = await client.get(base + osmand.encode_query(fix(OSMAND, events=("sos",))))
        js = await client.post(base + "/", content=osmand.encode_json(fix(OSMAND, 1)),
                               headers={"Content-Type": "application/json"})
        missing = await client.get(base + "/?lat=1&lon=2&timestamp=1377177267")
        unknown = await client.get(base + "/?id=nobody&lat=1&lon=2&timestamp=1377177267")
    assert (ok.status_code, js.status_code, missing.status_code, unknown.status_code) == (200, 200, 400, 403)
    rows = stored(fleet, OSMAND)
    assert len(rows) == 2 and "sos" in rows[0].events


async def test_h02_and_watch_over_tcp(gateway: Gateway, fleet: Fleet) -> None:
    reader, writer = await connect(gateway, "h02")
    writer.write(b"*HQ,4210051415,V1,164549,A,0956.3869,N,08406.7068,W,000.00,000,221215,FFFFFBFF#")
    writer.write(b"*HQ,4210051415,HTBT,55#")
    await asyncio.sleep(0.5)
    assert len(stored(fleet, H02)) == 2
    writer.close()
    reader, writer = await connect(gateway, "watch")
    writer.write(b"[3G*6907919734*000B*LK,0,10,100]")
    assert await asyncio.wait_for(reader.readexactly(23), 5) == b"[3G*6907919734*0002*LK]"
    writer.write(b"[3G*6907919734*003e*AL_LTE,170525,214118,V,0,N,0,E,0,0,0,0,0,22,0,0,00110000,0,0,0]")
    assert await asyncio.wait_for(reader.readexactly(23), 5) == b"[3G*6907919734*0002*AL]"
    writer.close()
    rows = stored(fleet, WATCH)
    assert len(rows) == 2 and rows[1].strap == "open" and {"sos", "strap_open"} <= set(rows[1].events)
    assert rows[1].lat is None


async def test_malformed_input_closes_only_its_own_connection(gateway: Gateway, fleet: Fleet) -> None:
    good_r, good_w = await connect(gateway, "teltonika")
    good_w.write(teltonika.encode_login(TELTONIKA))
    assert await asyncio.wait_for(good_r.readexactly(1), 5) == b"\x01"
    for name, garbage in (("teltonika", b"GET / HTTP/1.1\r\n\r\n"), ("gt06", b"\x78\x78\x02\x01\x0d\x0a"),
                          ("h02", b"\x80\x81\x82"), ("watch", b"GET /"), ("kuzet_tcp", b"KZ\x01\x01" + bytes(36)),
                          ("teltonika", teltonika.encode_login(TELTONIKA) + bytes.fromhex(
                              "000000000000004c08010000016818d500580009c28d9f1cb3757a00be00c60f0053000f06f0011503"
                              "c80001011d00fc0007423799180053cdf80dce426f430f88190bb8560bb802f100005aa110002887e"
                              "000010000ee8e"))):
        bad_r, bad_w = await connect(gateway, name)
        bad_w.write(garbage)
        data = await asyncio.wait_for(bad_r.read(), 5)
        assert not data.endswith(b"\x00\x00\x00\x01"), f"{name}: a bad-CRC frame was acknowledged"
        bad_w.close()
    good_w.write(teltonika.encode_avl([fix(TELTONIKA)]))
    assert await asyncio.wait_for(good_r.readexactly(4), 5) == b"\x00\x00\x00\x01"
    good_w.close()


async def test_idle_and_slow_connections_time_out(fleet: Fleet) -> None:
    config = gateway_config()
    config.limits.idle_timeout_s = 0.3
    async with Gateway(StoreSink(fleet.sessions), config=config, database_url=fleet.url) as gw:
        reader, writer = await connect(gw, "teltonika")
        started = asyncio.get_running_loop().time()
        assert await closed(reader, 3)
        assert asyncio.get_running_loop().time() - started < 2
        reader, writer = await connect(gw, "gt06")
        writer.write(gt06.encode_login(GT06)[:5])  # half a frame, then silence
        assert await closed(reader, 3)
        assert gw.stats.timeouts >= 2
    config.limits.idle_timeout_s, config.limits.frame_timeout_s = 5.0, 0.5
    async with Gateway(StoreSink(fleet.sessions), config=config, database_url=fleet.url) as gw:
        reader, writer = await connect(gw, "gt06")
        frame = gt06.encode_login(GT06)
        started = asyncio.get_running_loop().time()
        with contextlib.suppress(ConnectionError):
            for byte in frame[:-1]:  # one byte every 0.1 s: never idle, never finished
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(0.1)
                if reader.at_eof():
                    break
        assert await closed(reader, 3)
        assert asyncio.get_running_loop().time() - started < 1.5


async def test_an_oversized_frame_is_refused_before_it_is_read(gateway: Gateway) -> None:
    for name, header in (("teltonika", b"\x00\x00\x00\x00" + (10_000_000).to_bytes(4, "big")),
                         ("gt06", b"\x79\x79\xff\xff\x12"), ("h02", b"*HQ," + b"1" * 70_000),
                         ("watch", b"[3G*1*0001*" + b"x" * 70_000),
                         ("kuzet_tcp", b"KZ\x01\x01" + (50_000_000).to_bytes(4, "big"))):
        reader, writer = await connect(gateway, name)
        writer.write(header)
        assert await closed(reader), name
        writer.close()
    async with httpx.AsyncClient() as client:
        response = await client.post(f"http://127.0.0.1:{gateway.ports['kuzet_https']}/kuzet/v1/batch",
                                     content=b"{" * (kuzet.MAX_BODY + 10))
    assert response.status_code == 413


async def test_kuzet_over_https_with_a_configured_certificate(fleet: Fleet, tmp_path: object) -> None:
    from pathlib import Path

    from .tls import self_signed

    cert, key = self_signed(Path(str(tmp_path)))
    config = gateway_config(tls_cert=str(cert), tls_key=str(key))
    async with Gateway(StoreSink(fleet.sessions), config=config, database_url=fleet.url) as gw:
        body = kuzet.encode_batch(KUZET, [fix(KUZET, 0)], sent=T0)
        async with httpx.AsyncClient(verify=False) as client:  # noqa: S501 - a throwaway self-signed test cert
            response = await client.post(f"https://127.0.0.1:{gw.ports['kuzet_https']}/kuzet/v1/batch",
                                         content=body, headers={"X-Kuzet-Signature": kuzet.sign(KUZET_SECRET, body)})
        assert response.status_code == 200 and response.json()["acked"] == [0]
    assert len(stored(fleet, KUZET)) == 1


def test_queue_command_refuses_unknown_devices_and_kinds(fleet: Fleet) -> None:
    with transaction(fleet.sessions) as s:
        with pytest.raises(LookupError, match="no device"):
            queue_command(s, "nope", "locate")
        with pytest.raises(ValueError, match="unknown command kind"):
            queue_command(s, TELTONIKA, "self_destruct")
        command = queue_command(s, WATCH, "message", {"text": "call your officer"})
        assert command.status == "queued" and command.protocol == "watch"
    assert watch.LOCATE_COMMAND == "CR"


@pytest.mark.parametrize("speaker_name", ["teltonika", "gt06", "kuzet"])
async def test_a_simulated_fleet_gets_every_record_acknowledged_and_stored_once(
        gateway: Gateway, fleet: Fleet, speaker_name: str) -> None:
    from kuzet.gateway.speakers import Gt06Speaker, KuzetSpeaker, TeltonikaSpeaker
    from kuzet.pipeline.fleet import drive

    serial = {"teltonika": TELTONIKA, "gt06": GT06, "kuzet": KUZET}[speaker_name]
    speaker = {"teltonika": TeltonikaSpeaker(), "gt06": Gt06Speaker(),
               "kuzet": KuzetSpeaker(lambda _: KUZET_SECRET)}[speaker_name]
    port = gateway.ports["kuzet_tcp" if speaker_name == "kuzet" else speaker_name]
    reports = [fix(serial, i) for i in range(40)]
    result = await asyncio.wait_for(drive(reports, speaker, "127.0.0.1", port, records_per_frame=7), 30)
    assert result.acknowledged_count == 40 and result.refused == 0
    assert len(stored(fleet, serial)) == 40
