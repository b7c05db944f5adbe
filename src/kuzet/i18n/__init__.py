"""Kazakh, Russian and English: message catalogues loaded at run time from Babel ``.po`` files.

Every ``*.po`` file in ``locales/<locale>/LC_MESSAGES/`` is merged (``web.po`` holds the officer UI; other
capabilities add their own file, e.g. ``casework.po``, so nobody edits another area's catalogue). The
catalogues are compiled in memory on first use; there is no build step. A missing translation falls back
to the English source string, never to an error.
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALES: tuple[str, ...] = ("kk", "ru", "en")
LOCALE_NAMES: dict[str, str] = {"kk": "Қазақша", "ru": "Русский", "en": "English"}
DEFAULT_LOCALE = "ru"
CATALOGUES = Path(__file__).with_name("locales")


def normalise(locale: str | None, default: str = DEFAULT_LOCALE) -> str:
    """A supported locale code from ``kk``, ``kk-KZ``, ``ru_RU``... or the default."""
    if not locale:
        return default
    code = locale.replace("_", "-").split("-", 1)[0].lower()
    return code if code in LOCALES else default


def negotiate(accept_language: str | None, default: str = DEFAULT_LOCALE) -> str:
    """The first supported language in an ``Accept-Language`` header."""
    for part in (accept_language or "").split(","):
        code = part.split(";", 1)[0].strip()
        if code and normalise(code, "") in LOCALES:
            return normalise(code)
    return default


def catalogue(locale: str) -> Catalog:
    """The merged catalogue of every ``.po`` file for ``locale``."""
    merged = Catalog(locale=locale)
    for path in sorted((CATALOGUES / locale / "LC_MESSAGES").glob("*.po")):
        with path.open("rb") as fh:
            for message in read_po(fh, locale=locale):
                if message.id and message.string:
                    merged.add(message.id, message.string)
    return merged


@lru_cache(maxsize=len(LOCALES))
def translations(locale: str) -> NullTranslations:
    """:class:`babel.support.Translations` for ``locale``, compiled in memory from the ``.po`` files."""
    locale = normalise(locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalogue(locale))
    buffer.seek(0)
    return Translations(fp=buffer, domain="kuzet")


def gettext(locale: str, message: str) -> str:
    return translations(locale).gettext(message)


def ngettext(locale: str, singular: str, plural: str, n: int) -> str:
    return translations(locale).ngettext(singular, plural, n)


def reload() -> None:
    """Forget compiled catalogues (after editing a ``.po`` file in a running process)."""
    translations.cache_clear()
