"""``kuzet gateway-store`` serves devices into the database; ``kuzet device-command`` queues locate now."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import select

from kuzet.gateway.codecs import teltonika
from kuzet.gateway.models import DeviceCommand
from kuzet.store.models import DeviceReportRecord

from .conftest import TELTONIKA, Fleet

KUZET = [sys.executable, "-m", "kuzet.cli"]


def _env(fleet: Fleet, tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ, KUZET_DATABASE_URL=fleet.url, KUZET_VAR_DIR=str(tmp_path), KUZET_GATEWAY_MQTT="off")
    for name in ("teltonika", "gt06", "h02", "watch", "osmand", "kuzet_tcp", "kuzet_https"):
        env[f"KUZET_GATEWAY_{name.upper()}_PORT"] = "0" if name == "teltonika" else "off"
    return env


def test_device_command_queues_a_locate_request(fleet: Fleet, tmp_path: Path) -> None:
    done = subprocess.run([*KUZET, "device-command", TELTONIKA], env=_env(fleet, tmp_path), capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    refused = subprocess.run([*KUZET, "device-command", "nope"], env=_env(fleet, tmp_path), capture_output=True,
                             text=True, timeout=60, check=False)
    assert refused.returncode == 2 and "no device" in refused.stderr
    with fleet.sessions() as s:
        assert [c.kind for c in s.execute(select(DeviceCommand)).scalars()] == ["locate"]


def test_gateway_store_serves_a_teltonika_device_until_terminated(fleet: Fleet, tmp_path: Path) -> None:
    proc = subprocess.Popen([*KUZET, "gateway-store"], env=_env(fleet, tmp_path), stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None
        ready = json.loads(proc.stdout.readline())
        port = ready["ports"]["teltonika"]
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(teltonika.encode_login(TELTONIKA))
            assert sock.recv(1) == b"\x01"
            frame = bytes.fromhex("000000000000004c08010000016818d500580009c28d9f1cb3757a00be00c60f0053000f06f001"
                                  "1503c80001011d00fc0007423799180053cdf80dce426f430f88190bb8560bb802f100005aa11000"
                                  "2887e000010000ee8d")
            sock.sendall(frame)
            deadline = time.monotonic() + 10
            ack = b""
            while len(ack) < 4 and time.monotonic() < deadline:
                ack += sock.recv(4 - len(ack))
            assert ack == b"\x00\x00\x00\x01"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    with fleet.sessions() as s:
        (row,) = s.execute(select(DeviceReportRecord)).scalars().all()
    assert row.device == TELTONIKA and row.raw == frame and row.lat is not None and abs(row.lat - 48.152307) < 1e-6
