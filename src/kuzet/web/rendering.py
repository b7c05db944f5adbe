"""Server-rendered pages: ``render(request, "page.html", ctx)`` with translations, local times and the caller.

Templates are looked up in ``src/kuzet/web/templates`` first, then in the ``templates/`` directory of any
other capability package (``src/kuzet/<capability>/templates``), so a capability ships its own pages that
``{% extends "base.html" %}``. Every template gets:

- ``_(msgid)`` / ``ngettext(s, p, n)``: the caller's language (kk, ru or en);
- ``principal`` (or ``None`` on public pages), ``locale``, ``tz`` (a :class:`zoneinfo.ZoneInfo`);
- filters ``localtime`` (UTC datetime -> text in the caller's zone) and ``isotime``;
- ``nav``: the navigation items the caller's role may see; ``settings`` (tile URL and the like).

Rendering never reads the database: handlers pass what the page shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from kuzet import i18n
from kuzet.auth.principal import Principal
from kuzet.domain.enums import Role
from kuzet.domain.schedules import zone

TEMPLATES = Path(__file__).with_name("templates")
LOCALE_COOKIE = "kuzet_lang"


@dataclass(frozen=True, slots=True)
class NavItem:
    """A link in the top navigation, shown to the listed roles (all signed-in users when empty)."""

    path: str
    label: str  # a msgid, translated at render time
    roles: frozenset[Role] = frozenset()


_ALL_PEOPLE = frozenset({Role.OFFICER, Role.SUPERVISOR, Role.OPERATOR, Role.ADMINISTRATOR})
NAV_ITEMS: list[NavItem] = [
    NavItem("/ui/map", "Map", _ALL_PEOPLE),
    NavItem("/ui/people", "People", _ALL_PEOPLE),
    NavItem("/ui/alerts", "Alerts", _ALL_PEOPLE),
    NavItem("/ui/audit", "Audit trail", frozenset({Role.AUDITOR})),
]


def add_nav_item(item: NavItem) -> None:
    """Let a capability add its page to the navigation (idempotent by path)."""
    if all(existing.path != item.path for existing in NAV_ITEMS):
        NAV_ITEMS.append(item)


def _template_dirs() -> list[str]:
    dirs = [str(TEMPLATES)]
    package_root = TEMPLATES.parent.parent
    for candidate in sorted(package_root.glob("*/templates")):
        if candidate != TEMPLATES and candidate.is_dir():
            dirs.append(str(candidate))
    return dirs


templates = Jinja2Templates(directory=_template_dirs())
templates.env.autoescape = True


def request_locale(request: Request, principal: Principal | None) -> str:
    """The caller's language: their saved choice, else the language cookie, else the browser's, else Russian."""
    if principal is not None:
        return i18n.normalise(principal.locale)
    cookie = request.cookies.get(LOCALE_COOKIE)
    if cookie:
        return i18n.normalise(cookie)
    default = getattr(request.app.state.settings, "default_locale", i18n.DEFAULT_LOCALE)
    return i18n.negotiate(request.headers.get("accept-language"), i18n.normalise(default))


def request_zone(request: Request, principal: Principal | None) -> ZoneInfo:
    name = principal.timezone if principal is not None else request.app.state.settings.default_timezone
    try:
        return zone(name)
    except ValueError:
        return zone("Asia/Almaty")


def format_local(value: datetime | None, tz: ZoneInfo, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A UTC datetime as wall-clock text in ``tz``; naive datetimes are taken to be UTC."""
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(tz).strftime(fmt)


def render(request: Request, template: str, context: dict[str, Any] | None = None, *,
           status_code: int = 200) -> HTMLResponse:
    """Render ``template`` for the caller with translations, their time zone and the navigation."""
    principal = getattr(request.state, "principal", None)
    if not isinstance(principal, Principal):
        principal = None
    locale = request_locale(request, principal)
    tz = request_zone(request, principal)
    trans = i18n.translations(locale)
    nav = [] if principal is None else [
        item for item in NAV_ITEMS if not item.roles or principal.role in item.roles]
    ctx: dict[str, Any] = {
        "request": request,
        "principal": principal,
        "locale": locale,
        "locales": i18n.LOCALE_NAMES,
        "tz": tz,
        "_": trans.gettext,
        "gettext": trans.gettext,
        "ngettext": trans.ngettext,
        "nav": nav,
        "settings": request.app.state.settings,
        "localtime": lambda value, fmt="%Y-%m-%d %H:%M": format_local(value, tz, fmt),
    }
    ctx.update(context or {})
    return templates.TemplateResponse(request, template, ctx, status_code=status_code)
