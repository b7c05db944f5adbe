"""Notifications of alerts by e-mail (SMTP), SMS (an HTTP gateway) and signed webhooks, with a delivery log.

Each message is one :class:`~kuzet.alerts.models.Delivery` row whose ``idempotency_key`` is derived from
(alert, channel, recipient, event): queueing the same message again finds the row and does nothing, so a
message is never sent twice by us. The key also travels with the message (``Idempotency-Key`` header,
e-mail ``Message-ID``) so that a receiver can drop a duplicate after a crash between sending and recording.
A failed attempt is retried with exponential backoff until :attr:`Transports.max_attempts`.

- E-mail: plain text through ``settings.smtp_host``/``smtp_port`` from ``settings.smtp_sender``.
- SMS: ``POST settings.sms_gateway_url`` with JSON ``{"to", "text", "reference"}`` (and
  ``Authorization: Bearer settings.sms_gateway_token`` when one is set); any 2xx is accepted.
- Webhook: ``POST`` the JSON body to the subscriber's URL with ``X-Kuzet-Timestamp`` (Unix seconds) and
  ``X-Kuzet-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>``; check it with
  :func:`verify_webhook_signature`.

Messages carry the subject code, the alert type, severity and times, never a location or an address.
Nothing here decides who may see an alert in the UI; it only tells the recipients configured for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import smtplib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

import httpx
import orjson
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from kuzet import i18n
from kuzet.domain.errors import DomainError
from kuzet.settings import Settings, get_settings
from kuzet.store.models import AlertRecord, ProtectedPersonRecord, User

from .models import Delivery, EscalationEvent, Subscription
from .vocabulary import Channel, DeliveryStatus, NotificationEvent, severity_rank

if TYPE_CHECKING:
    from .workflow import IncidentCache

log = logging.getLogger("kuzet.alerts.notifications")

SIGNATURE_HEADER = "X-Kuzet-Signature"
TIMESTAMP_HEADER = "X-Kuzet-Timestamp"
EVENT_HEADER = "X-Kuzet-Event"
IDEMPOTENCY_HEADER = "Idempotency-Key"


class DeliveryError(Exception):
    """A send failed. ``permanent`` failures (a rejected address, a 4xx) are not retried."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True, slots=True)
class Transports:
    """Where and how messages go out; built from the settings, or given explicitly (tests, tools)."""

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_sender: str = "kuzet@localhost"
    sms_gateway_url: str = ""
    #: Sent as ``Authorization: Bearer <token>`` to the SMS gateway when set.
    sms_gateway_token: str = ""
    webhook_secret: str = ""
    timeout_s: float = 5.0
    max_attempts: int = 6
    backoff: timedelta = timedelta(seconds=30)
    max_backoff: timedelta = timedelta(hours=1)
    #: Link shown in messages to staff (the alert page), e.g. ``https://kuzet.example/ui/queue/{id}``.
    alert_url: str = "/ui/queue/{id}"
    locale: str = "ru"
    extra_headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Transports:
        s = settings or get_settings()
        return cls(smtp_host=s.smtp_host, smtp_port=s.smtp_port, smtp_sender=s.smtp_sender,
                   sms_gateway_url=s.sms_gateway_url, sms_gateway_token=s.sms_gateway_token,
                   webhook_secret=s.webhook_secret,
                   locale=i18n.normalise(s.default_locale))

    def delay_after(self, attempts: int) -> timedelta:
        """Backoff before the next attempt after ``attempts`` failures: 30 s, 60 s, 120 s... capped."""
        delay: timedelta = self.backoff * (2 ** max(0, attempts - 1))
        return min(delay, self.max_backoff)


# -- signing -----------------------------------------------------------------------------------------------
def sign_webhook(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_webhook_signature(secret: str, timestamp: str, signature: str, body: bytes, *, now: datetime,
                             tolerance: timedelta = timedelta(minutes=5)) -> bool:
    """Whether a received webhook is ours and fresh (for receivers, and for our own tests)."""
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    if abs(now.timestamp() - ts) > tolerance.total_seconds():
        return False
    return hmac.compare_digest(sign_webhook(secret, ts, body), signature)


# -- building messages --------------------------------------------------------------------------------------
def idempotency_key(alert_id: int | None, channel: str, recipient: str, event: str) -> str:
    return hashlib.sha256(f"{alert_id}|{channel}|{recipient.strip().lower()}|{event}".encode()).hexdigest()


def alert_facts(alert: AlertRecord) -> dict[str, Any]:
    """What a message may say about an alert: no location, no address."""
    def iso(t: datetime | None) -> str | None:
        return None if t is None else t.astimezone(UTC).isoformat().replace("+00:00", "Z")

    return {"id": alert.id, "subject": alert.subject_code, "type": alert.type, "target": alert.target,
            "severity": alert.severity, "start": iso(alert.start), "end": iso(alert.end),
            "raised_at": iso(alert.raised_at), "late": alert.late, "confidence": round(alert.confidence, 3),
            "status": alert.status, "outcome": alert.outcome, "region_id": alert.region_id}


def _text(locale: str, msgid: str) -> str:
    return i18n.gettext(locale, msgid)


def _staff_message(alert: AlertRecord, event: str, transports: Transports, extra: str = "") -> tuple[str, str]:
    loc = transports.locale
    kind = _text(loc, "alert:" + alert.type)
    subject = f"[Kuzet] {_text(loc, 'severity:' + alert.severity)}: {kind} — {alert.subject_code}"
    if event.startswith(NotificationEvent.ESCALATED):
        subject = f"[Kuzet] {_text(loc, 'Escalated')}: {kind} — {alert.subject_code}"
    elif event == NotificationEvent.CLOSED:
        subject = f"[Kuzet] {_text(loc, 'Closed')}: {kind} — {alert.subject_code}"
    lines = [
        f"{_text(loc, 'Alert')} #{alert.id}: {kind} ({alert.type})",
        f"{_text(loc, 'Subject')}: {alert.subject_code}",
        f"{_text(loc, 'Severity')}: {_text(loc, 'severity:' + alert.severity)}",
        f"{_text(loc, 'Started')}: {alert_facts(alert)['start']}",
        f"{_text(loc, 'Raised')}: {alert_facts(alert)['raised_at']}",
    ]
    if alert.outcome:
        lines.append(f"{_text(loc, 'Outcome')}: {_text(loc, 'outcome:' + alert.outcome)}")
    if extra:
        lines.append(extra)
    lines.append(transports.alert_url.format(id=alert.id))
    return subject, "\n".join(lines)


def _payload(alert: AlertRecord, event: str, channel: Channel, transports: Transports, *, text: str = "",
             subject: str = "", extra: dict[str, Any] | None = None) -> dict[str, Any]:
    if channel is Channel.WEBHOOK:
        return {"event": event, "alert": alert_facts(alert), **(extra or {})}
    if not text:
        subject, text = _staff_message(alert, event, transports)
    return {"subject": subject, "text": text}


def _hash(payload: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()


def queue_delivery(session: Session, *, alert: AlertRecord | None, channel: Channel | str, recipient: str,
                   event: str, payload: dict[str, Any], now: datetime,
                   subscription_id: int | None = None) -> Delivery | None:
    """Queue one message; returns ``None`` when the same message (same key) was queued before."""
    channel = Channel(channel)
    recipient = recipient.strip()
    if not recipient:
        return None
    key = idempotency_key(alert.id if alert else None, channel.value, recipient, event)
    if session.execute(select(Delivery.id).where(Delivery.idempotency_key == key)).first() is not None:
        return None
    row = Delivery(idempotency_key=key, alert_id=alert.id if alert else None, subscription_id=subscription_id,
                   channel=channel.value, recipient=recipient[:500], event=event[:40],
                   subject=str(payload.get("subject", ""))[:300], payload=payload, payload_hash=_hash(payload),
                   status=DeliveryStatus.PENDING.value, attempts=0, next_attempt_at=now, last_error="",
                   created_at=now)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:  # queued concurrently by another process: that one is the message
        return None
    return row


def active_subscriptions(session: Session) -> list[Subscription]:
    """Every active subscription, once, for a batch of alerts (``matching_subscriptions(..., among=...)``)."""
    return list(session.execute(select(Subscription).where(Subscription.active.is_(True))
                                .order_by(Subscription.id)).scalars())


def matching_subscriptions(session: Session, alert: AlertRecord, event: str,
                           among: Sequence[Subscription] | None = None) -> list[Subscription]:
    """The active subscriptions that want ``event`` on ``alert``; from ``among`` (the active subscriptions,
    loaded once for a batch of alerts) when given, else from the database."""
    if among is None:
        rows: Sequence[Subscription] = session.execute(select(Subscription).where(
            Subscription.active.is_(True),
            or_(Subscription.region_id.is_(None), Subscription.region_id == alert.region_id),
            or_(Subscription.person_id.is_(None), Subscription.person_id == alert.person_id),
        ).order_by(Subscription.id)).scalars().all()
    else:
        rows = [sub for sub in among if sub.active and sub.region_id in (None, alert.region_id)
                and sub.person_id in (None, alert.person_id)]
    base_event = event.split(":", 1)[0]
    out = []
    for sub in rows:
        if severity_rank(alert.severity) < severity_rank(sub.min_severity):
            continue
        if sub.alert_types and alert.type not in sub.alert_types:
            continue
        if base_event not in (sub.events or [NotificationEvent.RAISED.value]):
            continue
        out.append(sub)
    return out


def queue_event(session: Session, alert: AlertRecord, event: str, now: datetime,
                transports: Transports | None = None, subscriptions: Sequence[Subscription] | None = None
                ) -> list[Delivery]:
    """Queue the messages every matching subscription wants for ``event`` on ``alert``."""
    transports = transports or Transports.from_settings()
    queued = []
    for sub in matching_subscriptions(session, alert, event, subscriptions):
        channel = Channel(sub.channel)
        payload = _payload(alert, event, channel, transports)
        row = queue_delivery(session, alert=alert, channel=channel, recipient=sub.address, event=event,
                             payload=payload, now=now, subscription_id=sub.id)
        if row is not None:
            queued.append(row)
    return queued


def warn_protected_person(session: Session, alert: AlertRecord, now: datetime, *, note: str = "",
                          event_suffix: str = "", transports: Transports | None = None) -> list[Delivery]:
    """Queue an SMS warning to the protected person of a proximity alert (when their phone is known)."""
    transports = transports or Transports.from_settings()
    if alert.person_id is None:
        return []
    stmt = select(ProtectedPersonRecord).where(ProtectedPersonRecord.person_id == alert.person_id)
    if alert.type == "proximity" and alert.target:
        stmt = stmt.where(ProtectedPersonRecord.code == alert.target)
    queued = []
    for pp in session.execute(stmt.order_by(ProtectedPersonRecord.id)).scalars():
        if not pp.phone:
            continue
        text = _text(transports.locale, "Warning: the person you are protected from may be near you. "
                                        "Go to a safe place. Police are being informed.")
        if note:
            text += " " + note[:200]
        event = NotificationEvent.PROXIMITY_WARNING.value + (f":{event_suffix}" if event_suffix else "")
        row = queue_delivery(session, alert=alert, channel=Channel.SMS, recipient=pp.phone, event=event[:40],
                             payload={"subject": "", "text": text}, now=now)
        if row is not None:
            queued.append(row)
    return queued


def queue_escalation(session: Session, alert: AlertRecord, event_row: EscalationEvent, users: Sequence[User],
                     now: datetime, transports: Transports | None = None) -> list[Delivery]:
    """Tell the users of an escalation level (e-mail and SMS where they have them) and the subscribers."""
    transports = transports or Transports.from_settings()
    event = f"{NotificationEvent.ESCALATED.value}:{event_row.reason}:{event_row.level}"
    note = f"{_text(transports.locale, 'Escalation level')} {event_row.level}: " \
           f"{_text(transports.locale, 'escalation:' + event_row.reason)}"
    subject, text = _staff_message(alert, event, transports, note)
    queued = []
    for user in users:
        for channel, address in ((Channel.EMAIL, user.email), (Channel.SMS, user.phone)):
            if address:
                row = queue_delivery(session, alert=alert, channel=channel, recipient=address, event=event,
                                     payload={"subject": subject, "text": text}, now=now)
                if row is not None:
                    queued.append(row)
    queued += queue_event(session, alert, event, now, transports)
    return queued


# -- the dispatcher ------------------------------------------------------------------------------------------
def queue_raised(session: Session, alert: AlertRecord, now: datetime, transports: Transports | None = None,
                 subscriptions: Sequence[Subscription] | None = None) -> list[Delivery]:
    """Queue what a raised alert sends: the protected person's warning (proximity) first, then subscribers'."""
    transports = transports or Transports.from_settings()
    queued: list[Delivery] = []
    if alert.type == "proximity":
        queued += warn_protected_person(session, alert, now, transports=transports)
    queued += queue_event(session, alert, NotificationEvent.RAISED.value, now, transports, subscriptions)
    return queued


def on_alert_raised(session: Session, alert_id: int, now: datetime, *, transports: Transports | None = None,
                    send: bool = True, subscriptions: Sequence[Subscription] | None = None,
                    incidents: IncidentCache | None = None) -> list[Delivery]:
    """Called by the live monitor when an alert is raised: group it into its incident, queue the messages
    (a proximity alert's protected person first) and, with ``send``, try them at once. Idempotent.

    ``subscriptions`` (:func:`active_subscriptions`) and ``incidents`` (:class:`~kuzet.alerts.workflow.
    IncidentCache`): loaded once by a caller that raises many alerts in one transaction (the monitor),
    instead of queries per alert."""
    from .workflow import group_into_incident

    if now.tzinfo is None:
        raise DomainError("now must carry a time zone", field="now")
    now = now.astimezone(UTC)
    transports = transports or Transports.from_settings()
    alert = session.get(AlertRecord, alert_id)
    if alert is None:
        raise LookupError(f"alert {alert_id} not found")
    group_into_incident(session, alert, cache=incidents)
    queued = queue_raised(session, alert, now, transports, subscriptions)
    if send:
        for row in queued:
            attempt(session, row, now, transports)
    session.flush()
    return queued


@dataclass(frozen=True, slots=True)
class DeliveryRun:
    sent: int = 0
    retrying: int = 0
    failed: int = 0


def deliver_pending(session: Session, now: datetime, *, transports: Transports | None = None,
                    limit: int = 200) -> DeliveryRun:
    """Try every pending message whose next attempt is due at ``now`` (oldest first)."""
    if now.tzinfo is None:
        raise DomainError("now must carry a time zone", field="now")
    now = now.astimezone(UTC)
    transports = transports or Transports.from_settings()
    due = session.execute(select(Delivery).where(Delivery.status == DeliveryStatus.PENDING.value,
                                                 Delivery.next_attempt_at <= now)
                          .order_by(Delivery.next_attempt_at, Delivery.id).limit(limit)).scalars().all()
    counts = {DeliveryStatus.SENT: 0, DeliveryStatus.PENDING: 0, DeliveryStatus.FAILED: 0}
    for row in due:
        counts[DeliveryStatus(attempt(session, row, now, transports).status)] += 1
    session.flush()
    return DeliveryRun(counts[DeliveryStatus.SENT], counts[DeliveryStatus.PENDING], counts[DeliveryStatus.FAILED])


def attempt(session: Session, row: Delivery, now: datetime, transports: Transports) -> Delivery:
    """One attempt at one pending message; records the outcome on the row."""
    if row.status != DeliveryStatus.PENDING:
        return row  # already sent or given up: never again
    row.attempts += 1
    try:
        SENDERS[Channel(row.channel)](session, row, transports, now)
    except DeliveryError as exc:
        row.last_error = str(exc)[:2000]
        if exc.permanent or row.attempts >= transports.max_attempts:
            row.status = DeliveryStatus.FAILED.value
        else:
            row.next_attempt_at = now + transports.delay_after(row.attempts)
        log.warning("delivery %s (%s) attempt %d failed: %s", row.id, row.channel, row.attempts, exc)
    else:
        row.status = DeliveryStatus.SENT.value
        row.sent_at = now
        row.last_error = ""
    return row


# -- senders -------------------------------------------------------------------------------------------------
def _send_email(session: Session, row: Delivery, transports: Transports, now: datetime) -> None:
    message = EmailMessage()
    message["From"] = transports.smtp_sender
    message["To"] = row.recipient
    message["Subject"] = row.payload.get("subject") or "Kuzet"
    message["Message-ID"] = f"<{row.idempotency_key}@kuzet>"
    message["X-Kuzet-Idempotency-Key"] = row.idempotency_key
    message.set_content(str(row.payload.get("text", "")))
    try:
        with smtplib.SMTP(transports.smtp_host, transports.smtp_port, timeout=transports.timeout_s) as smtp:
            smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryError(f"SMTP refused {row.recipient}: {exc.recipients}", permanent=True) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"SMTP {transports.smtp_host}:{transports.smtp_port}: "
                            f"{type(exc).__name__}: {exc}") from None


def _post(url: str, content: bytes, headers: dict[str, str], transports: Transports, what: str) -> None:
    try:
        response = httpx.post(url, content=content, headers=headers, timeout=transports.timeout_s)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{what} {url}: {type(exc).__name__}: {exc}") from None
    if 200 <= response.status_code < 300:
        return
    permanent = 400 <= response.status_code < 500 and response.status_code not in (408, 409, 425, 429)
    raise DeliveryError(f"{what} {url}: HTTP {response.status_code} {response.text[:200]}", permanent=permanent)


def _send_sms(session: Session, row: Delivery, transports: Transports, now: datetime) -> None:
    if not transports.sms_gateway_url:
        raise DeliveryError("no SMS gateway configured (KUZET_SMS_GATEWAY_URL)")
    body = orjson.dumps({"to": row.recipient, "text": row.payload.get("text", ""),
                         "reference": row.idempotency_key})
    headers = {"Content-Type": "application/json", IDEMPOTENCY_HEADER: row.idempotency_key,
               **transports.extra_headers}
    if transports.sms_gateway_token:
        headers["Authorization"] = f"Bearer {transports.sms_gateway_token}"
    _post(transports.sms_gateway_url, body, headers, transports, "SMS gateway")


def _send_webhook(session: Session, row: Delivery, transports: Transports, now: datetime) -> None:
    secret = transports.webhook_secret
    if row.subscription_id is not None:
        sub = session.get(Subscription, row.subscription_id)
        if sub is not None and sub.secret:
            secret = sub.secret
    if not secret:
        raise DeliveryError("no webhook secret configured", permanent=True)
    body = orjson.dumps({**row.payload, "idempotency_key": row.idempotency_key}, option=orjson.OPT_SORT_KEYS)
    timestamp = int(now.timestamp())
    headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: str(timestamp),
               SIGNATURE_HEADER: sign_webhook(secret, timestamp, body), EVENT_HEADER: row.event,
               IDEMPOTENCY_HEADER: row.idempotency_key}
    _post(row.recipient, body, headers, transports, "webhook")


SENDERS: dict[Channel, Callable[[Session, Delivery, Transports, datetime], None]] = {
    Channel.EMAIL: _send_email, Channel.SMS: _send_sms, Channel.WEBHOOK: _send_webhook}


# -- subscriptions --------------------------------------------------------------------------------------------
def subscribe(session: Session, *, channel: Channel | str, address: str, name: str = "",
              region_id: int | None = None, person_id: int | None = None, min_severity: str = "low",
              alert_types: Sequence[str] = (), events: Sequence[str] = (), secret: str = "") -> Subscription:
    """Add a recipient. Callers check the caller's right to configure (see the API)."""
    try:
        channel = Channel(channel)
    except ValueError:
        raise DomainError(f"unknown channel {channel!r} (email, sms, webhook)", field="channel") from None
    address = address.strip()
    if channel is Channel.EMAIL and "@" not in address:
        raise DomainError(f"not an e-mail address: {address!r}", field="address")
    if channel is Channel.WEBHOOK and not address.startswith(("https://", "http://")):
        raise DomainError(f"a webhook needs an http(s) URL, got {address!r}", field="address")
    if channel is Channel.SMS and not address.lstrip("+").isdigit():
        raise DomainError(f"not a phone number: {address!r}", field="address")
    if severity_rank(min_severity) < 0:
        raise DomainError(f"unknown severity {min_severity!r}", field="min_severity")
    unknown = set(events) - {e.value for e in NotificationEvent}
    if unknown:
        raise DomainError(f"unknown events {sorted(unknown)}", field="events")
    row = Subscription(name=name, channel=channel.value, address=address, region_id=region_id,
                       person_id=person_id, min_severity=min_severity, alert_types=list(alert_types),
                       events=list(events), secret=secret, active=True)
    session.add(row)
    session.flush()
    return row


def list_subscriptions(session: Session, region_id: int | None) -> list[Subscription]:
    """Subscriptions that apply to a region (its own and the national ones); all with ``region_id=None``."""
    stmt = select(Subscription).order_by(Subscription.id)
    if region_id is not None:
        stmt = stmt.where(or_(Subscription.region_id == region_id, Subscription.region_id.is_(None)))
    return list(session.execute(stmt).scalars())


def delivery_log(session: Session, *, alert_id: int | None = None, limit: int = 200) -> list[Delivery]:
    stmt = select(Delivery).order_by(Delivery.id.desc()).limit(limit)
    if alert_id is not None:
        stmt = stmt.where(Delivery.alert_id == alert_id)
    return list(session.execute(stmt).scalars())


# -- the background worker -----------------------------------------------------------------------------------
async def run_alert_worker(sessions: sessionmaker[Session], stop: asyncio.Event, *,
                           clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                           interval: timedelta = timedelta(seconds=10),
                           transports: Transports | None = None, holder: str | None = None) -> None:
    """Every ``interval``: group new alerts into incidents, escalate missed targets, retry due messages.

    Only the process holding the ``alert-worker`` lease works (:mod:`kuzet.pipeline.leases`): with two
    processes running the worker, messages are still sent once. The lease lasts three intervals, so another
    process takes over within half a minute of the holder stopping.
    """
    from kuzet.pipeline.leases import holder_id, take_lease

    from .escalation import run_escalations

    transports = transports or Transports.from_settings()
    me = holder or holder_id()

    def tick() -> None:
        with sessions() as session, session.begin():
            now = clock()
            if not take_lease(session, "alert-worker", me, now, 3 * interval):
                return
            run_escalations(session, now, transports=transports)
            deliver_pending(session, now, transports=transports)

    while not stop.is_set():
        try:
            await asyncio.to_thread(tick)
        except Exception:  # the worker keeps going; the next tick retries
            log.exception("alert worker tick failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval.total_seconds())
