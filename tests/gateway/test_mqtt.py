"""Kuzet batches over the real Mosquitto broker on 127.0.0.1:1883: stored, then acknowledged on the ack topic."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import aiomqtt
import orjson
import pytest
from sqlalchemy import select

from kuzet.domain.enums import Source
from kuzet.domain.reports import DeviceReport
from kuzet.gateway import Gateway, StoreSink
from kuzet.gateway.codecs import kuzet
from kuzet.store.models import DeviceReportRecord

from .conftest import KUZET, KUZET_SECRET, Fleet, gateway_config

pytestmark = pytest.mark.mqtt
T0 = datetime(2026, 11, 2, 17, 0, tzinfo=UTC)


async def test_a_batch_published_to_the_broker_is_stored_then_acknowledged(fleet: Fleet) -> None:
    prefix = f"kuzet-test-{uuid.uuid4().hex[:8]}"
    config = gateway_config(mqtt_url="mqtt://127.0.0.1:1883", mqtt_topic=f"{prefix}/+/reports")
    async with Gateway(StoreSink(fleet.sessions), config=config, database_url=fleet.url) as gw:
        assert gw.mqtt is not None
        await asyncio.wait_for(gw.mqtt.ready.wait(), 10)
        reports = [DeviceReport(device=KUZET, seq=i, time=T0 + timedelta(minutes=i), received=T0, lat=43.2,
                                lon=76.9, source=Source.GPS, accuracy_m=5.0) for i in range(3)]
        body = kuzet.encode_batch(KUZET, reports, sent=T0)
        async with aiomqtt.Client("127.0.0.1", 1883) as device:
            await device.subscribe(f"{prefix}/{KUZET}/ack", qos=1)
            await device.publish(f"{prefix}/{KUZET}/reports", kuzet.encode_mqtt(KUZET_SECRET, body), qos=1)
            forged = kuzet.encode_batch(KUZET, [reports[0].with_received(T0)], sent=T0 + timedelta(seconds=1))
            acks = []
            async with asyncio.timeout(10):
                async for message in device.messages:
                    signature, ack = kuzet.decode_mqtt(bytes(message.payload))  # type: ignore[arg-type]
                    if not acks:
                        assert kuzet.verify(KUZET_SECRET, ack, signature)
                        acks.append(kuzet.decode_ack(ack))
                    else:
                        acks.append(orjson.loads(ack))
                    if len(acks) == 1:
                        await device.publish(f"{prefix}/{KUZET}/reports", kuzet.encode_mqtt("wrong", forged), qos=1)
                    else:
                        break
    assert acks[0]["acked"] == [0, 1, 2]
    assert acks[1]["error"] == "bad_signature"
    with fleet.sessions() as s:
        rows = s.execute(select(DeviceReportRecord).where(DeviceReportRecord.device == KUZET)).scalars().all()
    assert sorted(r.seq for r in rows) == [0, 1, 2] and {r.protocol for r in rows} == {"mqtt"}
