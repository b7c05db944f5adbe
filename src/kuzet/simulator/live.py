"""Drive the running gateway with a simulated region, over the real protocols, in real time.

Wearers' devices speak Teltonika, GT06, the Kuzet protocol (TCP) or OsmAnd (HTTP, as the Traccar Client phone
app does); protected persons carry phones with OsmAnd. Each device keeps its buffer until the gateway
acknowledges it, so a gateway restart loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import random
import time as walltime
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx

from kuzet.domain.enums import ZoneKind
from kuzet.domain.plan import Zone
from kuzet.domain.reports import DeviceReport
from kuzet.domain.schedules import Schedule, WeeklyWindow

from .devices import victim_reports, wearer_reports
from .world import TIMEZONE, Incident, SimPerson, build_world

log = logging.getLogger("kuzet.simulator")


@dataclass
class LiveStats:
    sent: int = 0
    #: Reports acknowledged over HTTP (OsmAnd); TCP acknowledgements are counted by the fleet.
    http_acknowledged: int = 0
    tcp_acknowledged: int = 0
    failures: int = 0
    by_protocol: dict[str, int] = field(default_factory=dict)

    @property
    def acknowledged(self) -> int:
        return self.http_acknowledged + self.tcp_acknowledged


class OsmandLink:
    """A phone running Traccar Client: one HTTP request per report, retried until the server answers 200."""

    def __init__(self, device: str, base_url: str, stats: LiveStats) -> None:
        self.device = device
        self.url = base_url
        self.stats = stats
        self.queue: asyncio.Queue[DeviceReport | None] = asyncio.Queue()

    def push(self, report: DeviceReport) -> None:
        self.queue.put_nowait(report)

    async def run(self) -> None:
        from kuzet.gateway.codecs import osmand

        async with httpx.AsyncClient(timeout=10.0) as client:
            while (report := await self.queue.get()) is not None:
                while True:
                    try:
                        response = await client.post(self.url + osmand.encode_query(report))
                        if response.status_code == 200:
                            self.stats.http_acknowledged += 1
                            break
                    except httpx.HTTPError:
                        pass
                    self.stats.failures += 1
                    await asyncio.sleep(1.0)

    def close(self) -> None:
        self.queue.put_nowait(None)


def demo_people(wearers: int, start: datetime, seed: int = 2026) -> list[SimPerson]:
    """A region whose first minutes already show what Kuzet does: a strap opened, an exclusion zone
    entered, and someone already out when their curfew begins."""
    rng = random.Random(seed)
    people = build_world(rng, wearers, start, 24.0, violation_rate=0.3)
    # The staged incidents happen in Almaty, where the demo's operator and officer work.
    tracked = [p for p in people if p.protocol in ("teltonika", "gt06", "kuzet") and p.city.name == "Almaty"]
    if tracked:
        tracked[0].incidents = [Incident("strap_open", start + timedelta(seconds=20), timedelta(minutes=12))]
    if len(tracked) > 1:
        tracked[1].incidents = [Incident("exclusion_visit", start + timedelta(seconds=30), timedelta(minutes=15))]
    if len(tracked) > 2:
        p = tracked[2]
        tz = ZoneInfo(TIMEZONE)
        opens = (start + timedelta(minutes=3)).astimezone(tz)
        window = WeeklyWindow(frozenset(range(7)), time(opens.hour, opens.minute),
                              time((opens.hour + 8) % 24, opens.minute))
        p.curfew = (window,)
        home = p.zones[0]
        p.zones[0] = Zone(home.id, ZoneKind.INCLUSION, home.shape, Schedule((window,), TIMEZONE), home.grace)
        p.incidents = [Incident("late_return", start + timedelta(seconds=10), timedelta(minutes=40))]
    return people


def _merged(people: list[SimPerson], seed: int, start: datetime, end: datetime) -> Iterator[DeviceReport]:
    streams: list[Iterator[DeviceReport]] = []
    for i, p in enumerate(people):
        streams.append(wearer_reports(p, random.Random(seed * 7919 + i), start, end))
        if p.victim is not None:
            streams.append(victim_reports(p, random.Random(seed * 104729 + i), start, end))
    return heapq.merge(*streams, key=lambda r: r.received)


async def run_live(people: list[SimPerson], *, secrets: dict[str, str], host: str = "127.0.0.1",
                   ports: dict[str, int | None], start: datetime, hours: float = 24.0, speed: float = 1.0,
                   seed: int = 1, stop: asyncio.Event | None = None,
                   on_progress: Callable[[LiveStats], None] | None = None) -> LiveStats:
    """Send every report when its time comes (``speed`` simulated seconds per second) until ``hours`` pass
    or ``stop`` is set. Device clocks run with the simulation, so at ``speed`` 1 they match the server's."""
    from kuzet.gateway.speakers import Gt06Speaker, KuzetSpeaker, TeltonikaSpeaker
    from kuzet.pipeline.fleet import DeviceLink, FleetResult

    stats = LiveStats()
    fleet = FleetResult()
    protocol_of = {p.device: p.protocol for p in people}
    protocol_of.update({p.victim.device: "osmand" for p in people if p.victim is not None})
    links: dict[str, DeviceLink | OsmandLink] = {}
    tasks: list[asyncio.Task[None]] = []

    def link_for(device: str) -> DeviceLink | OsmandLink:
        if device in links:
            return links[device]
        protocol = protocol_of[device]
        port = ports.get("osmand" if protocol == "osmand" else ("kuzet_tcp" if protocol == "kuzet" else protocol))
        if port is None:
            raise RuntimeError(f"the gateway has no {protocol} listener configured")
        link: DeviceLink | OsmandLink
        if protocol == "osmand":
            link = OsmandLink(device, f"http://{host}:{port}", stats)
        else:
            speaker = {"teltonika": TeltonikaSpeaker, "gt06": Gt06Speaker}.get(protocol)
            link = DeviceLink(device, speaker() if speaker else KuzetSpeaker(lambda d: secrets[d]), host, port, fleet,
                              records_per_frame=10)
        links[device] = link
        tasks.append(asyncio.create_task(link.run()))
        return link

    wall0 = walltime.monotonic()
    end = start + timedelta(hours=hours)
    last_progress = 0.0
    for report in _merged(people, seed, start, end):
        due = wall0 + (report.received - start).total_seconds() / speed
        while (delay := due - walltime.monotonic()) > 0:
            if stop is not None and stop.is_set():
                break
            await asyncio.sleep(min(delay, 0.5))
        if stop is not None and stop.is_set():
            break
        sent = replace(report, received=datetime.now(UTC)) if speed == 1.0 else report
        link_for(sent.device).push(sent)
        stats.sent += 1
        protocol = protocol_of[sent.device]
        stats.by_protocol[protocol] = stats.by_protocol.get(protocol, 0) + 1
        if on_progress is not None and walltime.monotonic() - last_progress > 5:
            stats.tcp_acknowledged = fleet.acknowledged_count
            on_progress(stats)
            last_progress = walltime.monotonic()
    for link in links.values():
        if isinstance(link, DeviceLink):
            link.closed = True
            link.more.set()
        else:
            link.close()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)
    stats.failures += fleet.refused
    stats.tcp_acknowledged = fleet.acknowledged_count
    return stats
