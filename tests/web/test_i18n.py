"""Kazakh, Russian and English throughout: every message the UI uses has a translation in each catalogue."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kuzet import i18n
from kuzet.domain.enums import AlertType, Category, Role, Severity, ZoneKind
from kuzet.web.rendering import NAV_ITEMS

WEB = Path(i18n.__file__).resolve().parents[1] / "web"
LITERAL = re.compile(r"""_\(("|')([^"']+?)\1\)""")
MESSAGES_IN_CODE = ["Wrong username or password.", "Too many failed attempts: the account is locked for a while.",
                    "Enter the code from your authenticator app.", "Wrong code from the authenticator app.",
                    "Two-factor sign-in is on.", "The new password is too short.", "Password changed.",
                    "You may not see this page.", "Not found.", "Error"]


def ui_messages() -> set[str]:
    found: set[str] = set(MESSAGES_IN_CODE) | {item.label for item in NAV_ITEMS}
    for path in [*WEB.glob("templates/*.html"), *WEB.glob("ui/*.py")]:
        found |= {m.group(2) for m in LITERAL.finditer(path.read_text(encoding="utf-8"))
                  if not m.group(2).endswith(":")}
    found |= {f"role:{r.value}" for r in Role} | {f"alert:{a.value}" for a in AlertType}
    found |= {f"severity:{s.value}" for s in Severity} | {f"category:{c.value}" for c in Category}
    found |= {f"zone:{k.value}" for k in ZoneKind}
    found |= {f"status:{s}" for s in ("new", "claimed", "acknowledged", "closed")}
    return found


@pytest.mark.parametrize("locale", ["kk", "ru"])
def test_every_ui_message_is_translated(locale: str) -> None:
    catalogue = i18n.catalogue(locale)
    missing = sorted(m for m in ui_messages() if not (catalogue.get(m) and catalogue.get(m).string))  # type: ignore[union-attr]
    assert not missing, f"untranslated in {locale}: {missing}"


def test_keyed_messages_have_english_wording() -> None:
    en = i18n.translations("en")
    for message in ui_messages():
        if ":" in message and not message.endswith(":") and " " not in message.split(":")[0]:
            assert en.gettext(message) != message, message


def test_language_codes_are_normalised_and_negotiated() -> None:
    assert i18n.normalise("kk-KZ") == "kk" and i18n.normalise("de") == "ru"
    assert i18n.negotiate("de-DE,kk;q=0.8,ru;q=0.5") == "kk"
    assert i18n.gettext("kk", "Sign in") == "Кіру" and i18n.gettext("ru", "Sign in") == "Вход"
