"""The device gateway: every protocol listener around one sink, started and stopped together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from kuzet.settings import Settings, get_settings
from kuzet.store.context import sessions_for

from .directory import Directory
from .http import kuzet_app, osmand_app
from .mqtt import MqttSubscriber
from .sink import ReportSink
from .tcp import SESSIONS, Context, GatewayStats, Limits, TcpListener

log = logging.getLogger("kuzet.gateway")

#: Conventional ports (the Traccar defaults for the market protocols). ``None`` disables a listener; 0 is
#: an ephemeral port (tests).
DEFAULT_PORTS: dict[str, int | None] = {"teltonika": 5027, "gt06": 5023, "h02": 5013, "watch": 5093,
                                        "osmand": 5055, "kuzet_tcp": 5070, "kuzet_https": 5443}


@dataclass
class GatewayConfig:
    host: str = "127.0.0.1"
    ports: dict[str, int | None] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    limits: Limits = field(default_factory=Limits)
    #: PEM certificate and key: Kuzet over HTTPS and TCP (and OsmAnd) use TLS when both are set.
    tls_cert: str | None = None
    tls_key: str | None = None
    mqtt_url: str | None = None
    mqtt_topic: str = "kuzet/devices/+/reports"

    @classmethod
    def from_env(cls, settings: Settings) -> GatewayConfig:
        """Ports from ``KUZET_GATEWAY_<PROTOCOL>_PORT`` (``off`` disables), TLS from ``KUZET_GATEWAY_TLS_CERT`` and
        ``KUZET_GATEWAY_TLS_KEY``, idle timeout from ``KUZET_GATEWAY_IDLE_TIMEOUT_S``, MQTT from settings."""
        ports: dict[str, int | None] = {}
        for name, default in DEFAULT_PORTS.items():
            text = os.environ.get(f"KUZET_GATEWAY_{name.upper()}_PORT")
            ports[name] = default if text is None else (None if text.lower() in ("off", "") else int(text))
        limits = Limits(idle_timeout_s=float(os.environ.get("KUZET_GATEWAY_IDLE_TIMEOUT_S", "300")))
        mqtt = os.environ.get("KUZET_GATEWAY_MQTT", "on").lower() != "off"
        return cls(host=settings.gateway_host, ports=ports, limits=limits,
                   tls_cert=os.environ.get("KUZET_GATEWAY_TLS_CERT"), tls_key=os.environ.get("KUZET_GATEWAY_TLS_KEY"),
                   mqtt_url=settings.mqtt_url if mqtt else None, mqtt_topic=settings.mqtt_topic)


class _QuietServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the process (several run in one event loop)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class Gateway:
    """All listeners. ``await start()`` binds them (``ports`` then holds the real port numbers); ``await stop()``
    closes them and their connections."""

    def __init__(self, sink: ReportSink, settings: Settings | None = None, *, config: GatewayConfig | None = None,
                 database_url: str | None = None) -> None:
        settings = settings or get_settings()
        self.config = config or GatewayConfig.from_env(settings)
        self.sink = sink
        self.stats = GatewayStats()
        self.directory = Directory(sessions_for(database_url or settings.database_url),
                                   on_links=getattr(sink, "set_links", None))
        self.ctx = Context(sink=sink, directory=self.directory, limits=self.config.limits, stats=self.stats)
        self.ports: dict[str, int] = {}
        self._listeners: list[TcpListener] = []
        self._http: list[tuple[uvicorn.Server, asyncio.Task[Any]]] = []
        self.mqtt: MqttSubscriber | None = None

    def _ssl(self) -> ssl.SSLContext | None:
        if not (self.config.tls_cert and self.config.tls_key):
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.config.tls_cert, self.config.tls_key)
        return context

    async def start(self) -> None:
        tls = self._ssl()
        try:
            log.info("device directory warmed: %d devices", await self.directory.warm())
        except Exception as exc:  # the store may be down: devices are then looked up as they connect
            log.warning("device directory not warmed (%s: %s); looking devices up as they connect",
                        type(exc).__name__, exc)
        try:
            for name, session_type in SESSIONS.items():
                port = self.config.ports.get(name)
                if port is None:
                    continue
                listener = TcpListener(name, session_type, self.ctx, self.config.host, port,
                                       ssl=tls if name == "kuzet_tcp" else None)
                self.ports[name] = await listener.start()
                self._listeners.append(listener)
            for name, app in (("osmand", osmand_app(self.ctx)), ("kuzet_https", kuzet_app(self.ctx))):
                port = self.config.ports.get(name)
                if port is None:
                    continue
                self.ports[name] = await self._serve_http(name, app, port, tls)
            if self.config.mqtt_url:
                self.mqtt = MqttSubscriber(self.ctx, self.config.mqtt_url, self.config.mqtt_topic)
                await self.mqtt.start()
        except BaseException:
            await self.stop()
            raise
        log.info("gateway listening: %s", self.ports)

    async def _serve_http(self, name: str, app: Any, port: int, tls: ssl.SSLContext | None) -> int:
        kwargs: dict[str, Any] = {}
        if tls is not None and name == "kuzet_https":
            kwargs = {"ssl_certfile": self.config.tls_cert, "ssl_keyfile": self.config.tls_key}
        config = uvicorn.Config(app, host=self.config.host, port=port, log_level="warning", lifespan="off",
                                timeout_keep_alive=int(self.config.limits.idle_timeout_s), access_log=False,
                                limit_concurrency=4096, **kwargs)
        server = _QuietServer(config)
        task = asyncio.create_task(server.serve(), name=f"gateway-{name}")
        self._http.append((server, task))
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError(f"{name} listener stopped while starting")
            await asyncio.sleep(0.01)
        return int(server.servers[0].sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self.mqtt is not None:
            await self.mqtt.stop()
            self.mqtt = None
        for listener in self._listeners:
            await listener.stop()
        self._listeners.clear()
        for server, task in self._http:
            server.should_exit = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 10)
        self._http.clear()

    async def __aenter__(self) -> Gateway:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
