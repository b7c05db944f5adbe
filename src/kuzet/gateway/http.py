"""HTTP listeners: OsmAnd (Traccar Client) reports and the Kuzet protocol over HTTPS. Thin: decode, check the
device, store through the sink, then answer. Never answers 200 before the sink has made the reports durable."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .codecs import FrameError, kuzet, osmand
from .tcp import Context, Refused, Session, process_batch

SIGNATURE_HEADER = "X-Kuzet-Signature"


class _HttpSession(Session):
    protocol = "osmand"


class _KuzetHttpSession(Session):
    protocol = "kuzet"


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise FrameError(f"request body too large: {declared} bytes (limit {limit})", http_status=413)
    out = bytearray()
    async for chunk in request.stream():
        out += chunk
        if len(out) > limit:
            raise FrameError(f"request body too large: more than {limit} bytes", http_status=413)
    return bytes(out)


def _peer(request: Request) -> str:
    return f"{request.client.host}:{request.client.port}" if request.client else ""


def osmand_app(ctx: Context) -> Starlette:
    async def report(request: Request) -> Response:
        try:
            body = await _body(request, osmand.MAX_BODY)
            path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            message = osmand.decode(request.method, path, request.headers.get("content-type"), body)
        except FrameError as exc:
            ctx.stats.refused_frames += 1
            return Response(exc.reason + "\n", status_code=exc.http_status, media_type="text/plain")
        session = _HttpSession(ctx, _peer(request))
        assert message.device_id is not None
        try:
            device = await session.identify(message.device_id)
        except Refused as exc:
            return Response(exc.reason + "\n", status_code=403, media_type="text/plain")
        try:
            await session.store(message, device.serial)
        except Refused as exc:
            return Response(exc.reason + "\n", status_code=503, media_type="text/plain",
                            headers={"Retry-After": "5"})
        return Response(status_code=200)

    return Starlette(routes=[Route("/", report, methods=["GET", "POST"])])


def kuzet_app(ctx: Context) -> Starlette:
    async def batch(request: Request) -> Response:
        session = _KuzetHttpSession(ctx, _peer(request))
        try:
            body = await _body(request, kuzet.MAX_BODY)
        except FrameError as exc:
            return Response(kuzet.encode_error("too_large", exc.reason), status_code=413,
                            media_type="application/json")
        signature = request.headers.get(SIGNATURE_HEADER, "")
        outcome = await process_batch(session, body, signature)
        headers = {}
        if outcome.secret:
            headers[SIGNATURE_HEADER] = kuzet.sign(outcome.secret, outcome.body)
        if outcome.status == 503:
            headers["Retry-After"] = "5"
        return Response(outcome.body, status_code=outcome.status, media_type="application/json", headers=headers)

    return Starlette(routes=[Route("/kuzet/v1/batch", batch, methods=["POST"])])
