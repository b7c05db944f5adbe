"""A fleet of simulated devices speaking the real protocols over TCP, for benchmarks and fault tests.

Each device keeps its own buffer, as a real tracker does: a record leaves the buffer only when the gateway has
acknowledged the frame that carried it; on a refused frame, a timeout or a dropped connection the device
reconnects after a pause and sends the same records again. The fleet records exactly which reports were
acknowledged, so a test can check that every one of them was stored once.

It uses the gateway's own client-side frame encoders (``kuzet.gateway``); it never touches the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from kuzet.domain.reports import DeviceReport


class Speaker(Protocol):
    """One protocol's client side: log in, frame records, read the acknowledgement."""

    name: str

    async def login(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, device: str) -> None: ...

    def frame(self, device: str, reports: Sequence[DeviceReport]) -> bytes: ...

    async def acknowledged(self, reader: asyncio.StreamReader, count: int) -> bool: ...


class TeltonikaSpeaker:
    """Teltonika Codec 8 over TCP with the gateway's encoders: IMEI login, AVL frames, 4-byte record count ACK."""

    name = "teltonika"

    async def login(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, device: str) -> None:
        from kuzet.gateway.codecs import teltonika

        writer.write(teltonika.encode_login(device))
        await writer.drain()
        if await reader.readexactly(1) != teltonika.LOGIN_ACCEPT:
            raise ConnectionError(f"the gateway refused device {device}")

    def frame(self, device: str, reports: Sequence[DeviceReport]) -> bytes:
        from kuzet.gateway.codecs import teltonika

        return teltonika.encode_avl(reports)

    async def acknowledged(self, reader: asyncio.StreamReader, count: int) -> bool:
        from kuzet.gateway.codecs import teltonika

        return teltonika.decode_ack(await reader.readexactly(4)) == count


def report_key(report: DeviceReport) -> tuple[str, float]:
    """What identifies a report across the wire for checks: device and fix time (Teltonika has no ``seq``)."""
    return (report.device, round(report.time.timestamp(), 3))


@dataclass
class FleetResult:
    acknowledged: dict[str, list[tuple[str, float]]] = field(default_factory=lambda: defaultdict(list))
    frames: int = 0
    refused: int = 0
    reconnects: int = 0
    ack_latencies: list[float] = field(default_factory=list)
    started: float = 0.0
    finished: float = 0.0

    @property
    def acknowledged_count(self) -> int:
        return sum(len(v) for v in self.acknowledged.values())


class DeviceLink:
    """One device: its buffer, its connection, its retries."""

    def __init__(self, device: str, speaker: Speaker, host: str, port: int, result: FleetResult, *,
                 records_per_frame: int, ack_timeout_s: float = 5.0, retry_s: float = 0.5) -> None:
        self.device = device
        self.speaker = speaker
        self.host = host
        self.port = port
        self.result = result
        self.records_per_frame = records_per_frame
        self.ack_timeout_s = ack_timeout_s
        self.retry_s = retry_s
        self.buffer: deque[DeviceReport] = deque()
        self.more = asyncio.Event()
        self.closed = False
        self._conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    def push(self, report: DeviceReport) -> None:
        self.buffer.append(report)
        self.more.set()

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._conn is None:
            reader, writer = await asyncio.open_connection(self.host, self.port)
            await asyncio.wait_for(self.speaker.login(reader, writer, self.device), self.ack_timeout_s)
            self._conn = (reader, writer)
        return self._conn

    async def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn[1].close()
            self._conn = None

    async def run(self) -> None:
        while True:
            if not self.buffer:
                if self.closed:
                    break
                self.more.clear()
                await self.more.wait()
                continue
            batch = [self.buffer[i] for i in range(min(self.records_per_frame, len(self.buffer)))]
            sent = time.perf_counter()
            try:
                reader, writer = await self._connect()
                writer.write(self.speaker.frame(self.device, batch))
                await writer.drain()
                ok = await asyncio.wait_for(self.speaker.acknowledged(reader, len(batch)), self.ack_timeout_s)
            except (OSError, TimeoutError, asyncio.IncompleteReadError, ConnectionError):
                ok = False
                await self._drop()
                self.result.reconnects += 1
            if not ok:
                self.result.refused += 1
                await self._drop()
                await asyncio.sleep(self.retry_s)
                continue
            self.result.frames += 1
            self.result.ack_latencies.append(time.perf_counter() - sent)
            for _ in batch:
                report = self.buffer.popleft()
                self.result.acknowledged[self.device].append(report_key(report))
        await self._drop()


async def drive(reports: Sequence[DeviceReport], speaker: Speaker, host: str, port: int, *,
                records_per_frame: int = 1, rate: float | None = None,
                on_progress: Callable[[FleetResult], Any] | None = None,
                result: FleetResult | None = None) -> FleetResult:
    """Send ``reports`` (in arrival order) from one connection per device, at ``rate`` reports a second
    (``None``: as fast as the gateway acknowledges). Returns when every report has been acknowledged."""
    result = result or FleetResult()
    links: dict[str, DeviceLink] = {}
    for r in reports:
        if r.device not in links:
            links[r.device] = DeviceLink(r.device, speaker, host, port, result,
                                         records_per_frame=records_per_frame)
    tasks = [asyncio.create_task(link.run()) for link in links.values()]
    result.started = time.perf_counter()
    if rate is None:
        for r in reports:
            links[r.device].push(r)
    else:
        start = time.perf_counter()
        for i, r in enumerate(reports):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0.002:
                await asyncio.sleep(delay)
            links[r.device].push(r)
            if on_progress is not None and i % 1000 == 0:
                on_progress(result)
    for link in links.values():
        link.closed = True
        link.more.set()
    await asyncio.gather(*tasks)
    result.finished = time.perf_counter()
    return result


@dataclass
class BlastResult:
    frames: int = 0
    acknowledged: int = 0
    ack_latencies: list[float] = field(default_factory=list)
    started: float = 0.0
    finished: float = 0.0


class _TeltonikaLink(asyncio.Protocol):
    """One device's connection for :func:`blast`: IMEI login, then one frame in flight at a time."""

    def __init__(self, device: str, result: BlastResult, failed: asyncio.Future[None]) -> None:
        from kuzet.gateway.codecs import teltonika

        self.login = teltonika.encode_login(device)
        self.accept = teltonika.LOGIN_ACCEPT
        self.device = device
        self.result = result
        self.failed = failed
        self.queue: deque[tuple[bytes, int]] = deque()
        self.inflight: tuple[int, float] | None = None
        self.logged_in = False
        self.buf = bytearray()
        self.transport: Any = None
        self.idle = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.transport.write(self.login)

    def _fail(self, why: str) -> None:
        if not self.failed.done():
            self.failed.set_exception(ConnectionError(f"device {self.device}: {why}"))

    def connection_lost(self, exc: Exception | None) -> None:
        if self.queue or self.inflight is not None:
            self._fail(f"connection lost with frames unacknowledged ({exc})")

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.logged_in:
            if self.buf[:1] != self.accept:
                self._fail("login refused")
                return
            del self.buf[:1]
            self.logged_in = True
            self._send()
        while self.inflight is not None and len(self.buf) >= 4:
            count = int.from_bytes(self.buf[:4], "big")
            del self.buf[:4]
            expected, sent = self.inflight
            if count != expected:
                self._fail(f"acknowledged {count} records of {expected}")
                return
            self.inflight = None
            self.result.frames += 1
            self.result.acknowledged += count
            self.result.ack_latencies.append(time.perf_counter() - sent)
            self._send()

    def push(self, frame: bytes, records: int) -> None:
        self.queue.append((frame, records))
        self.idle.clear()
        if self.logged_in and self.inflight is None:
            self._send()

    def _send(self) -> None:
        if not self.queue:
            self.idle.set()
            return
        frame, records = self.queue.popleft()
        self.inflight = (records, time.perf_counter())
        assert self.transport is not None
        self.transport.write(frame)


async def blast(reports: Sequence[DeviceReport], host: str, port: int, *, records_per_frame: int = 1,
                rate: float | None = None) -> BlastResult:
    """Send ``reports`` over Teltonika TCP as a load generator: frames encoded before the clock starts, one
    connection per device driven by callbacks (no task per device), one frame in flight per device.

    For benchmarks, where the fleet's own cost would otherwise be counted against the gateway's: it does not
    reconnect or resend (any refusal or lost connection fails the run; :func:`drive` is the careful fleet the
    fault tests use). ``rate`` paces frames at that many reports a second. Returns when every frame is
    acknowledged."""
    from kuzet.gateway.codecs import teltonika

    loop = asyncio.get_running_loop()
    result = BlastResult()
    failed: asyncio.Future[None] = loop.create_future()
    per_device: dict[str, list[DeviceReport]] = defaultdict(list)
    for r in reports:
        per_device[r.device].append(r)
    # Frames in arrival order: each device's reports cut into frames, the frames interleaved as they arrive.
    frames: list[tuple[str, bytes, int]] = []
    cursor = {d: 0 for d in per_device}
    for r in reports:
        start = cursor[r.device]
        mine = per_device[r.device]
        if start >= len(mine) or mine[start] is not r:
            continue
        batch = mine[start : start + records_per_frame]
        cursor[r.device] = start + len(batch)
        frames.append((r.device, teltonika.encode_avl(batch), len(batch)))
    links: dict[str, _TeltonikaLink] = {}
    gate = asyncio.Semaphore(200)

    async def connect(device: str) -> None:
        async with gate:
            link = _TeltonikaLink(device, result, failed)
            await loop.create_connection(lambda: link, host, port)
            links[device] = link

    await asyncio.gather(*(connect(d) for d in per_device))
    result.started = time.perf_counter()
    sent = 0
    for device, frame, records in frames:
        if rate is not None:
            delay = result.started + sent / rate - time.perf_counter()
            if delay > 0.002:
                await asyncio.sleep(delay)
            if failed.done():
                break
        links[device].push(frame, records)
        sent += records
    waiting: asyncio.Future[Any] = asyncio.ensure_future(asyncio.gather(*(link.idle.wait()
                                                                          for link in links.values())))
    await asyncio.wait([waiting, failed], return_when=asyncio.FIRST_COMPLETED)
    result.finished = time.perf_counter()
    for link in links.values():
        if link.transport is not None:
            link.transport.close()
    if failed.done():
        waiting.cancel()
        failed.result()
    return result
