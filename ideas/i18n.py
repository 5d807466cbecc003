"""Translations (Babel catalogues, read straight from the .po files) and locale choice."""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALES = ("en", "it")
LOCALE_NAMES = {"en": "English", "it": "Italiano"}
CATALOGUES = Path(__file__).parent / "locales"


@cache
def translations(locale: str) -> NullTranslations:
    po = CATALOGUES / locale / "LC_MESSAGES" / "messages.po"
    if not po.exists():
        return NullTranslations()
    with po.open("rb") as handle:
        catalogue = read_po(handle, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalogue)
    buffer.seek(0)
    return Translations(buffer)


def negotiate(accept_language: str | None, default: str = "en") -> str:
    """The best of our locales for an Accept-Language header."""
    if not accept_language:
        return default
    preferred = []
    for part in accept_language.split(","):
        tag, _, quality = part.strip().partition(";q=")
        try:
            weight = float(quality) if quality else 1.0
        except ValueError:
            continue
        if tag and tag != "*":
            preferred.append((weight, tag.strip()))
    preferred.sort(key=lambda pair: -pair[0])
    try:
        found = Locale.negotiate([tag for _, tag in preferred], list(LOCALES), sep="-")
    except (UnknownLocaleError, ValueError):
        found = None
    return str(found) if found else default


def supported(locale: str | None) -> str | None:
    return locale if locale in LOCALES else None
