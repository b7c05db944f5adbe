"""Thin asyncio TCP servers around the pure codecs: framing, timeouts, limits, durability before the ACK.

One :class:`Connection` per device socket reads bytes with an idle timeout, cuts frames with the codec's
``next_frame`` (a frame larger than the limit is refused and the connection closed), and hands each frame to
the protocol's session. A malformed frame closes only its own connection; nothing a device sends can stop the
server. Reports go to the sink first; the reply (the ACK) is written only after ``append`` returned.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kuzet.domain.reports import DeviceReport

from .codecs import Decoded, FrameError, gt06, h02, kuzet, teltonika, to_reports, watch
from .directory import Directory, KnownDevice, PendingCommand
from .sink import ReportSink

log = logging.getLogger("kuzet.gateway")

#: Bytes of replies a device may leave unread before the connection waits for it to read them.
_WRITE_BACKLOG = 64 * 1024


class Refused(Exception):
    """Close the connection: ``reason`` says why (and ``reply`` is written first, if any)."""

    def __init__(self, reason: str, reply: bytes | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.reply = reply


@dataclass
class Limits:
    idle_timeout_s: float = 300.0
    #: A frame once begun must be complete within this time (a device dripping bytes is cut off).
    frame_timeout_s: float = 60.0
    max_frame: int = 64 * 1024
    command_poll_s: float = 10.0


@dataclass
class GatewayStats:
    connections: int = 0
    frames: int = 0
    reports: int = 0
    refused_frames: int = 0
    unknown_devices: int = 0
    sink_failures: int = 0
    timeouts: int = 0


class Session:
    """One protocol's conversation with one device; subclasses implement :meth:`handle`."""

    protocol = ""
    codec: Any = None

    def __init__(self, ctx: Context, peer: str) -> None:
        self.ctx = ctx
        self.peer = peer
        self.device: KnownDevice | None = None
        self.sent_commands: set[int] = set()
        self.last_command_check = 0.0

    def next_frame(self, buf: bytearray) -> int | None:
        return self.codec.next_frame(buf, max_frame=self.ctx.limits.max_frame)  # type: ignore[no-any-return]

    async def handle(self, frame: bytes) -> bytes | None:
        raise NotImplementedError

    async def identify(self, serial: str) -> KnownDevice:
        """The device, if it is in the fleet; else it is listed as unknown and refused."""
        if self.device is not None:
            if self.device.serial != serial:
                raise Refused(f"device id changed on one connection: {self.device.serial} -> {serial}")
            return self.device
        device = await self.ctx.directory.find(serial)
        if device is None:
            self.ctx.stats.unknown_devices += 1
            await self.ctx.directory.refuse_unknown(serial, self.protocol, self.peer)
            raise Refused(f"unknown device {serial!r}")
        self.device = device
        return device

    async def store(self, message: Decoded, device: str) -> list[DeviceReport]:
        reports = to_reports(message, device, datetime.now(UTC))
        if reports:
            try:
                await self.ctx.sink.append(reports, protocol=self.protocol)
            except Exception as exc:
                self.ctx.stats.sink_failures += 1
                raise Refused(f"sink unavailable, not acknowledged: {exc}") from exc
            self.ctx.stats.reports += len(reports)
        return reports

    async def due_commands(self, force: bool = False) -> list[PendingCommand]:
        if self.device is None:
            return []
        now = time.monotonic()
        if not force and now - self.last_command_check < self.ctx.limits.command_poll_s:
            return []
        self.last_command_check = now
        commands = await self.ctx.directory.take_commands(self.device.serial, self.ctx.limits.command_poll_s)
        fresh = [c for c in commands if c.id not in self.sent_commands]
        self.sent_commands.update(c.id for c in fresh)
        return fresh


@dataclass
class Context:
    sink: ReportSink
    directory: Directory
    limits: Limits
    stats: GatewayStats


def _command_text(command: PendingCommand, locate: str) -> str:
    if command.kind == "locate":
        return locate
    return str(command.payload.get("text", ""))


class TeltonikaSession(Session):
    protocol = "teltonika"
    codec = teltonika

    async def handle(self, frame: bytes) -> bytes | None:
        message = teltonika.decode(frame, device_id=self.device.serial if self.device else None)
        if message.kind == "login":
            assert message.device_id is not None
            try:
                await self.identify(message.device_id)
            except Refused as exc:
                raise Refused(exc.reason, teltonika.LOGIN_REFUSE) from None
            return teltonika.LOGIN_ACCEPT + await self._commands(force=True)
        if self.device is None:
            raise Refused("data before the IMEI login")
        if message.kind == "command_response":
            await self.ctx.directory.acknowledge(self.device.serial, detail=str(message.info.get("text", "")))
            return None
        if message.kind != "position":
            return None
        await self.store(message, self.device.serial)
        return (message.reply or b"") + await self._commands()

    async def _commands(self, force: bool = False) -> bytes:
        out = b""
        for command in await self.due_commands(force):
            text = _command_text(command, teltonika.LOCATE_COMMAND)
            if text:
                out += teltonika.encode_command(text)
        return out


class Gt06Session(Session):
    protocol = "gt06"
    codec = gt06
    serial = 0

    async def handle(self, frame: bytes) -> bytes | None:
        message = gt06.decode(frame, device_id=self.device.serial if self.device else None)
        if message.kind == "login":
            assert message.device_id is not None
            await self.identify(message.device_id)
            return (message.reply or b"") + await self._commands(force=True)
        if self.device is None:
            raise Refused("data before the login frame")
        if message.kind == "command_response":
            await self.ctx.directory.acknowledge(self.device.serial,
                                                 detail=str(message.info.get("command_text", "")))
            return None
        await self.store(message, self.device.serial)
        return (message.reply or b"") + await self._commands()

    async def _commands(self, force: bool = False) -> bytes:
        out = b""
        for command in await self.due_commands(force):
            text = _command_text(command, gt06.LOCATE_COMMAND)
            if text:
                self.serial = (self.serial + 1) & 0xFFFF
                out += gt06.encode_command(text, serial=self.serial, server_flag=command.id & 0xFFFFFFFF)
        return out


class H02Session(Session):
    protocol = "h02"
    codec = h02

    async def handle(self, frame: bytes) -> bytes | None:
        message = h02.decode(frame)
        assert message.device_id is not None
        device = await self.identify(message.device_id)
        await self.store(message, device.serial)
        return None


class WatchSession(Session):
    protocol = "watch"
    codec = watch

    async def handle(self, frame: bytes) -> bytes | None:
        message = watch.decode(frame)
        assert message.device_id is not None
        device = await self.identify(message.device_id)
        await self.store(message, device.serial)
        out = message.reply or b""
        maker = str(message.info.get("maker", "3G"))
        for command in await self.due_commands():
            text = _command_text(command, watch.LOCATE_COMMAND)
            if text:
                out += watch.encode_command(maker, device.serial, text)
        return out or None


class KuzetSession(Session):
    protocol = "kuzet"
    codec = kuzet

    async def handle(self, frame: bytes) -> bytes | None:
        kind, signature, body = kuzet.decode_frame(frame)
        if kind != kuzet.TYPE_BATCH:
            raise Refused(f"unexpected frame type 0x{kind:02x} from a device")
        outcome = await process_batch(self, body, signature)
        reply = kuzet.encode_frame(outcome.frame_type, outcome.body, outcome.secret)
        if outcome.close or outcome.status == 503:
            raise Refused(f"batch refused with {outcome.status}", reply)
        return reply


@dataclass(frozen=True)
class BatchOutcome:
    status: int
    body: bytes
    secret: str | None
    close: bool = False

    @property
    def frame_type(self) -> int:
        return kuzet.TYPE_ACK if self.status == 200 else kuzet.TYPE_ERROR


async def process_batch(session: Session, body: bytes, signature: str, *, raw: bytes | None = None) -> BatchOutcome:
    """The Kuzet protocol's one operation, the same over TCP, HTTPS and MQTT: check, store, acknowledge."""
    try:
        serial = kuzet.peek_device(body)
    except FrameError as exc:
        return BatchOutcome(exc.http_status, kuzet.encode_error("bad_request", exc.reason), None, close=True)
    try:
        device = await session.identify(serial)
    except Refused as exc:
        return BatchOutcome(403, kuzet.encode_error("unknown_device", exc.reason), None, close=True)
    if not kuzet.verify(device.secret, body, signature):
        session.device = None
        return BatchOutcome(401, kuzet.encode_error("bad_signature", "the HMAC-SHA256 signature does not match "
                                                    "the body and the device secret"), None, close=True)
    try:
        message = kuzet.decode_batch(body, raw=raw)
    except FrameError as exc:
        code = "too_large" if exc.http_status == 413 else "bad_request"
        return BatchOutcome(exc.http_status, kuzet.encode_error(code, exc.reason), device.secret)
    try:
        await session.store(message, device.serial)
    except Refused as exc:
        return BatchOutcome(503, kuzet.encode_error("unavailable", exc.reason, retry_after_s=5), device.secret)
    for result in message.info["command_results"]:
        await session.ctx.directory.acknowledge(device.serial, result.id,
                                                status="acknowledged" if result.status == "done" else "failed",
                                                detail=result.detail)
    commands = await session.ctx.directory.take_commands(device.serial, session.ctx.limits.command_poll_s)
    body_out = kuzet.encode_ack(device.serial, message.info["seqs"],
                                [{"id": c.id, "kind": c.kind, "payload": c.payload} for c in commands],
                                server_time=datetime.now(UTC))
    return BatchOutcome(200, body_out, device.secret)


SESSIONS: dict[str, type[Session]] = {"teltonika": TeltonikaSession, "gt06": Gt06Session, "h02": H02Session,
                                      "watch": WatchSession, "kuzet_tcp": KuzetSession}


class TcpListener:
    """One listening socket for one protocol."""

    def __init__(self, name: str, session_type: type[Session], ctx: Context, host: str, port: int,
                 ssl: Any = None) -> None:
        self.name = name
        self.session_type = session_type
        self.ctx = ctx
        self.host = host
        self.port = port
        self.ssl = ssl
        self.server: asyncio.Server | None = None
        self.connections: set[asyncio.Task[Any]] = set()

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, self.host, self.port, ssl=self.ssl,
                                                 limit=self.ctx.limits.max_frame + 1024, backlog=4096)
        self.port = self.server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
        for task in list(self.connections):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*self.connections, return_exceptions=True)
        if self.server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 5)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.connections.add(task)
        peer = writer.get_extra_info("peername")
        remote = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        session = self.session_type(self.ctx, remote)
        self.ctx.stats.connections += 1
        try:
            await run_connection(session, reader, writer, self.ctx)
        except asyncio.CancelledError:
            pass
        except Exception:  # a bug must cost one connection, never the server
            log.exception("%s connection from %s failed", self.name, remote)
        finally:
            with contextlib.suppress(Exception):
                writer.close()
            if task is not None:
                self.connections.discard(task)


async def run_connection(session: Session, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                         ctx: Context) -> None:
    buf = bytearray()
    limits = ctx.limits
    loop = asyncio.get_running_loop()
    frame_started: float | None = None
    while True:
        wait = limits.idle_timeout_s
        if buf:
            frame_started = frame_started if frame_started is not None else loop.time()
            wait = min(wait, max(0.0, frame_started + limits.frame_timeout_s - loop.time()))
        else:
            frame_started = None
        try:
            # asyncio.timeout, not wait_for: no task per read (this is the gateway's hottest line)
            async with asyncio.timeout(wait):
                chunk = await reader.read(65536)
        except TimeoutError:
            ctx.stats.timeouts += 1
            log.info("%s %s: %s, closing", session.protocol, session.peer,
                     "frame not completed in time" if buf else f"idle for {limits.idle_timeout_s:.0f} s")
            return
        except (ConnectionError, OSError):
            return
        if not chunk:
            return
        buf += chunk
        while buf:
            try:
                size = session.next_frame(buf)
            except FrameError as exc:
                ctx.stats.refused_frames += 1
                log.info("%s %s: %s", session.protocol, session.peer, exc.reason)
                return
            if size is None:
                if len(buf) > limits.max_frame:
                    ctx.stats.refused_frames += 1
                    return
                break
            frame = bytes(buf[:size])
            del buf[:size]
            ctx.stats.frames += 1
            try:
                reply = await session.handle(frame)
            except FrameError as exc:
                ctx.stats.refused_frames += 1
                log.info("%s %s: frame refused: %s", session.protocol, session.peer, exc.reason)
                return
            except Refused as exc:
                log.info("%s %s: %s", session.protocol, session.peer, exc.reason)
                if exc.reply:
                    with contextlib.suppress(Exception):
                        writer.write(exc.reply)
                        await writer.drain()
                return
            if reply:
                writer.write(reply)
                # An ACK is a few bytes: wait for the socket only when replies pile up unread (a device that
                # does not read), not on every frame.
                if writer.transport.get_write_buffer_size() > _WRITE_BACKLOG:
                    try:
                        async with asyncio.timeout(limits.idle_timeout_s):
                            await writer.drain()
                    except (TimeoutError, ConnectionError, OSError):
                        return
                elif writer.transport.is_closing():
                    return


def session_names() -> Sequence[str]:
    return tuple(SESSIONS)


Factory = Callable[[Context, str], Session]
