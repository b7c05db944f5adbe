"""The distributed journal on NATS JetStream: subjects partitioned by device, durable pull consumers.

Subject layout: ``<stream>.r.<partition>.<device token>``. One message carries the reports of one device from
one frame (Teltonika frames hold many records), with ``Nats-Msg-Id`` set from their idempotency keys so that a
frame re-sent within the stream's duplicate window is stored once. ``append`` returns after JetStream's
publish acknowledgement for every message, i.e. once the server has written them to its file store.

A monitor owns a set of partitions and reads each through a durable pull consumer that it (re)creates at its
checkpoint on start, so its position is the store's checkpoint, not the consumer's ack state.

This module never evaluates rules and never writes the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import msgspec
import orjson

from kuzet.domain.reports import DeviceReport
from kuzet.store.reports import dedup_key

from .base import (
    DEFAULT_PARTITIONS,
    JournalEntry,
    JournalUnavailable,
    Routing,
    decode_or_reject,
    encode_report,
    log,
    partition_of,
)

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


class _Message(msgspec.Struct):
    """One published message: the protocol and the device's reports, each kept as its raw journal body."""

    p: str
    r: list[msgspec.Raw]


_MESSAGE = msgspec.json.Decoder(_Message)


def device_token(device: str) -> str:
    """A device id as one NATS subject token (dots, wildcards and spaces are replaced)."""
    return _UNSAFE.sub("_", device) or "_"


class NatsJournal(Routing):
    """A journal on a JetStream stream named ``stream`` (one per deployment; tests use unique names)."""

    def __init__(self, url: str, *, stream: str = "KUZET", partitions: int = DEFAULT_PARTITIONS,
                 max_age: timedelta = timedelta(days=7), publish_timeout_s: float = 3.0) -> None:
        self.url = url
        self.stream = stream
        self.prefix = stream.lower()
        self.partitions = partitions
        self.max_age = max_age
        self.publish_timeout_s = publish_timeout_s
        self.links = {}
        self._nc: Any = None
        self._js: Any = None

    async def start(self) -> None:
        if self._nc is not None:
            return
        import nats
        from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig

        try:
            self._nc = await nats.connect(self.url, allow_reconnect=True, max_reconnect_attempts=-1,
                                          reconnect_time_wait=0.25, connect_timeout=2)
        except Exception as exc:
            self._nc = None
            raise JournalUnavailable(f"NATS at {self.url}: {exc}") from exc
        self._js = self._nc.jetstream(timeout=self.publish_timeout_s)
        config = StreamConfig(name=self.stream, subjects=[f"{self.prefix}.r.>"], retention=RetentionPolicy.LIMITS,
                              storage=StorageType.FILE, max_age=self.max_age.total_seconds(),
                              discard=DiscardPolicy.NEW, duplicate_window=120.0)
        try:
            await self._js.add_stream(config)
        except Exception:
            await self._js.update_stream(config)

    async def close(self) -> None:
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await self._nc.flush(timeout=2)
            with contextlib.suppress(Exception):
                await self._nc.close()
            self._nc = None

    async def delete_stream(self) -> None:
        """Remove this journal's stream (tests and benchmarks clean up after themselves)."""
        if self._js is not None:
            with contextlib.suppress(Exception):
                await self._js.delete_stream(self.stream)

    def subject(self, device: str, partition: int | None = None) -> str:
        part = partition_of(device, self.partitions) if partition is None else partition
        return f"{self.prefix}.r.{part}.{device_token(device)}"

    async def append(self, reports: Sequence[DeviceReport], *, protocol: str) -> None:
        if not reports:
            return
        if self._js is None or not self._nc.is_connected:
            raise JournalUnavailable(f"NATS at {self.url} is not connected")
        by_device: dict[str, list[DeviceReport]] = defaultdict(list)
        for r in reports:
            by_device[r.device].append(r)
        publishes = []
        for device, group in by_device.items():
            payload = orjson.dumps({"p": protocol, "r": [orjson.Fragment(encode_report(r)) for r in group]})
            msg_id = hashlib.sha256("\n".join(dedup_key(r) for r in group).encode()).hexdigest()[:32]
            linked = device in self.links  # a linked device's copies each need their own de-duplication id
            for part in self.partitions_of(device):
                publishes.append(self._js.publish(self.subject(device, part), payload,
                                                  timeout=self.publish_timeout_s,
                                                  headers={"Nats-Msg-Id": f"{msg_id}-{part}" if linked else msg_id}))
        results = await asyncio.gather(*publishes, return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            raise JournalUnavailable(f"NATS did not store {len(failed)} of {len(results)} messages: {failed[0]!r}")

    async def reader(self, name: str, partitions: Sequence[int] | None,
                     start_after: Mapping[str, int]) -> NatsReader:
        await self.start()
        chosen = list(range(self.partitions)) if partitions is None else sorted(set(partitions))
        reader = NatsReader(self, name, chosen)
        await reader.open(start_after)
        return reader


def stream_key(partition: int) -> str:
    return f"p{partition}"


class NatsReader:
    """Pull consumers ``<name>-p<N>``, one per partition, recreated at the checkpoint on open."""

    def __init__(self, journal: NatsJournal, name: str, partitions: list[int]) -> None:
        self.journal = journal
        self.name = re.sub(r"[^A-Za-z0-9_-]", "_", name)
        self.partitions = partitions
        self._subs: dict[int, Any] = {}
        self._unacked: dict[int, list[tuple[int, Any]]] = defaultdict(list)

    async def open(self, start_after: Mapping[str, int]) -> None:
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

        js = self.journal._js
        for p in self.partitions:
            durable = f"{self.name}-p{p}"
            with contextlib.suppress(Exception):
                await js.delete_consumer(self.journal.stream, durable)
            after = start_after.get(stream_key(p), 0)
            config = ConsumerConfig(
                durable_name=durable, ack_policy=AckPolicy.ALL, ack_wait=300.0, max_ack_pending=-1,
                filter_subject=f"{self.journal.prefix}.r.{p}.>",
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE if after else DeliverPolicy.ALL,
                opt_start_seq=after + 1 if after else None)
            self._subs[p] = await js.pull_subscribe(config.filter_subject, durable=durable,
                                                    stream=self.journal.stream, config=config)

    async def _fetch_one(self, p: int, n: int, wait_s: float) -> list[JournalEntry]:
        import nats.errors

        try:
            msgs = await self._subs[p].fetch(batch=n, timeout=max(wait_s, 0.01))
        except (nats.errors.TimeoutError, TimeoutError):
            return []
        except Exception:
            await asyncio.sleep(min(wait_s, 0.5))  # NATS restarting: the reader resumes by itself
            return []
        out: list[JournalEntry] = []
        key = stream_key(p)
        for msg in msgs:
            seq = msg.metadata.sequence.stream
            where = f"{self.journal.stream} partition {p} sequence {seq}"
            try:
                body = _MESSAGE.decode(msg.data)
            except msgspec.MsgspecError as exc:
                log.error("journal %s: a message that cannot be read was skipped (%s); its first bytes: %r",
                          where, exc, bytes(msg.data[:120]))
            else:
                for raw in body.r:
                    report = decode_or_reject(bytes(raw), where)
                    if report is not None:
                        out.append(JournalEntry(key, seq, body.p, report))
            self._unacked[p].append((seq, msg))
        return out

    async def fetch(self, max_entries: int, wait_s: float) -> list[JournalEntry]:
        per = max(1, max_entries // max(1, len(self.partitions)))
        parts = await asyncio.gather(*(self._fetch_one(p, per, wait_s) for p in self.partitions))
        return [e for part in parts for e in part]

    async def confirm(self, offsets: Mapping[str, int]) -> None:
        for p in self.partitions:
            upto = offsets.get(stream_key(p))
            if upto is None:
                continue
            pending = self._unacked[p]
            last = None
            while pending and pending[0][0] <= upto:
                last = pending.pop(0)[1]
            if last is not None:
                with contextlib.suppress(Exception):
                    await last.ack()  # AckPolicy.ALL: acknowledges everything before it too

    async def close(self) -> None:
        for sub in self._subs.values():
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
