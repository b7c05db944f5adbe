"""The device side of the protocols over real TCP: log in, send frames, read the acknowledgement.

Used by the simulator's device fleet (``kuzet.pipeline.fleet.drive``), the benchmarks and the end-to-end tests.
Each speaker builds frames with the codecs' client-side encoders; commands the server pushes (Codec 12, GT06
0x80) are read past while waiting for an acknowledgement.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from kuzet.domain.reports import DeviceReport

from .codecs import gt06, kuzet, teltonika


class TeltonikaSpeaker:
    name = "teltonika"

    def __init__(self, codec: int = 0x08) -> None:
        self.codec = codec

    async def login(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, device: str) -> None:
        writer.write(teltonika.encode_login(device))
        await writer.drain()
        if await reader.readexactly(1) != teltonika.LOGIN_ACCEPT:
            raise ConnectionRefusedError(f"gateway refused device {device}")

    def frame(self, device: str, reports: Sequence[DeviceReport]) -> bytes:
        return teltonika.encode_avl(reports, codec=self.codec)

    async def acknowledged(self, reader: asyncio.StreamReader, count: int) -> bool:
        while True:
            head = await reader.readexactly(4)
            if head != b"\x00\x00\x00\x00":
                return int.from_bytes(head, "big") == count
            size = int.from_bytes(await reader.readexactly(4), "big")
            await reader.readexactly(size + 4)  # a Codec 12 command: not answered by this simulated device


class Gt06Speaker:
    name = "gt06"

    def __init__(self) -> None:
        self.serial = 0

    async def login(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, device: str) -> None:
        writer.write(gt06.encode_login(device))
        await writer.drain()
        frame = await _read_gt06(reader)
        if len(frame) != 10 or frame[3] != gt06.LOGIN:
            raise ConnectionRefusedError(f"gateway did not acknowledge the login of {device}")

    def frame(self, device: str, reports: Sequence[DeviceReport]) -> bytes:
        out = b""
        for report in reports:
            self.serial = (self.serial + 1) & 0xFFFF
            out += gt06.encode_report(report, serial=self.serial, acknowledged=True)
        return out

    async def acknowledged(self, reader: asyncio.StreamReader, count: int) -> bool:
        seen = 0
        while seen < count:
            frame = await _read_gt06(reader)
            if frame[3] != gt06.COMMAND:
                seen += 1
        return True


async def _read_gt06(reader: asyncio.StreamReader) -> bytes:
    """One server frame (``78 78`` and a 1-byte length: ACKs and commands), read by its length."""
    head = await reader.readexactly(3)
    if head[:2] != b"\x78\x78":
        raise ConnectionError(f"unexpected bytes from the gateway: {head.hex()}")
    return head + await reader.readexactly(head[2] + 2)


class KuzetSpeaker:
    """The Kuzet protocol over TCP; ``secret_of`` gives each device's secret."""

    name = "kuzet"

    def __init__(self, secret_of: Callable[[str], str]) -> None:
        self.secret_of = secret_of

    async def login(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, device: str) -> None:
        return None

    def frame(self, device: str, reports: Sequence[DeviceReport]) -> bytes:
        body = kuzet.encode_batch(device, reports, sent=datetime.now(UTC))
        return kuzet.encode_frame(kuzet.TYPE_BATCH, body, self.secret_of(device))

    async def acknowledged(self, reader: asyncio.StreamReader, count: int) -> bool:
        head = await reader.readexactly(kuzet.HEADER)
        kind, _, body = kuzet.decode_frame(head + await reader.readexactly(int.from_bytes(head[4:8], "big")))
        if kind != kuzet.TYPE_ACK:
            return False
        return len(kuzet.decode_ack(body)["acked"]) == count
