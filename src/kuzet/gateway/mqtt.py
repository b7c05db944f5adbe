"""The MQTT subscriber: Kuzet batches published by devices to ``kuzet/devices/<serial>/reports``.

A message is the batch signature (64 hex digits), a newline and the batch body; the acknowledgement is published
(QoS 1) to ``kuzet/devices/<serial>/ack`` (the report topic with its last level replaced by ``ack``) only after
the sink has made the reports durable. The subscriber
reconnects on its own when the broker goes away; it never stops the gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from urllib.parse import urlsplit

import aiomqtt

from .codecs import FrameError, kuzet
from .tcp import Context, Session, process_batch

log = logging.getLogger("kuzet.gateway.mqtt")


class _MqttSession(Session):
    protocol = "mqtt"


class MqttSubscriber:
    def __init__(self, ctx: Context, url: str, topic: str = "kuzet/devices/+/reports") -> None:
        parts = urlsplit(url)
        self.ctx = ctx
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 1883
        self.username = parts.username
        self.password = parts.password
        self.topic = topic
        self.task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()

    async def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name="gateway-mqtt")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task

    async def _run(self) -> None:
        while True:
            try:
                async with aiomqtt.Client(self.host, self.port, username=self.username, password=self.password,
                                          identifier=None, clean_session=True) as client:
                    await client.subscribe(self.topic, qos=1)
                    self.ready.set()
                    async for message in client.messages:
                        await self._handle(client, str(message.topic), bytes(message.payload or b""))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.ready.clear()
                log.warning("MQTT broker %s:%s: %s; retrying", self.host, self.port, exc)
                await asyncio.sleep(2)

    async def _handle(self, client: aiomqtt.Client, topic: str, payload: bytes) -> None:
        parts = topic.split("/")
        serial = parts[-2] if len(parts) >= 2 else ""
        try:
            signature, body = kuzet.decode_mqtt(payload)
            if kuzet.peek_device(body) != serial:
                raise FrameError("the batch's device does not match the topic")
        except FrameError as exc:
            self.ctx.stats.refused_frames += 1
            log.info("MQTT %s: %s", topic, exc.reason)
            return
        session = _MqttSession(self.ctx, f"mqtt:{topic}")
        outcome = await process_batch(session, body, signature)
        if outcome.status in (200, 400, 401, 413) and serial:
            reply = (kuzet.sign(outcome.secret, outcome.body).encode() if outcome.secret else b"0" * 64)
            await client.publish(topic.rsplit("/", 1)[0] + "/ack", reply + b"\n" + outcome.body, qos=1)
