"""`kuzet serve` runs its monitor as a supervised child process: it restarts it, and the child never outlives it."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kuzet.pipeline.fleet import blast

from .harness import Service, count_stored, seed, service_env, stream
from .services import free_port


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie is dead
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"


def children_of(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()


async def until(condition, timeout_s: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout_s):
        while not await asyncio.to_thread(condition):  # noqa: ASYNC110 - polls another process
            await asyncio.sleep(0.1)


async def test_the_monitor_process_is_restarted_and_dies_with_kuzet_serve(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/kuzet.db"
    seed(url, 20)
    port = free_port()
    service = Service(["serve", "--no-migrate"], service_env(tmp_path, url, port), tmp_path)
    ready = await service.start()
    first = ready["monitor_pid"]
    assert first and first != ready["pid"] and alive(first)
    reports = stream(20, 10, datetime.now(UTC) - timedelta(hours=1))
    try:
        await blast(reports[:100], "127.0.0.1", port)
        await until(lambda: count_stored(url) == 100)
        os.kill(first, 9)  # the monitor dies; serve starts another, which carries on from the checkpoint
        await until(lambda: not alive(first))
        await blast(reports[100:], "127.0.0.1", port)
        await until(lambda: count_stored(url) == len(reports))
        children = children_of(ready["pid"])
        assert len(children) == 1 and int(children[0]) != first
        second = int(children[0])
    finally:
        service.kill()  # kill -9 of serve: its monitor must not be left running beside a restarted serve
        await service.wait()
    await until(lambda: not alive(second), timeout_s=5)


async def test_ctrl_c_stops_serve_and_its_monitor_without_a_restart(tmp_path: Path) -> None:
    """Ctrl-C reaches the whole process group: the child leaves stopping to its parent, which then stops it
    (not one restart in between), and both exit."""
    import signal
    import sys

    import orjson

    url = f"sqlite:///{tmp_path}/kuzet.db"
    seed(url, 2)
    log = tmp_path / "serve.log"
    with log.open("wb") as stderr:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "kuzet.cli", "serve", "--no-migrate",
            env=service_env(tmp_path, url, free_port()), cwd=tmp_path, stdout=asyncio.subprocess.PIPE,
            stderr=stderr, start_new_session=True)
    assert proc.stdout is not None
    async with asyncio.timeout(60):
        while True:
            line = await proc.stdout.readline()
            assert line, log.read_text()
            event = orjson.loads(line) if line.startswith(b"{") else {}
            if event.get("event") == "ready":
                break
    child = event["monitor_pid"]
    os.killpg(proc.pid, signal.SIGINT)
    async with asyncio.timeout(30):
        await proc.wait()
    await until(lambda: not alive(child), timeout_s=5)
    assert proc.returncode == 0
    assert "starting it again" not in log.read_text()
