"""The message catalogues: the template (.pot) is up to date with the sources, and the Italian
catalogue translates every message, keeping its placeholders."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

from ideas.i18n import CATALOGUES, LOCALES, negotiate, translations

ROOT = Path(__file__).resolve().parents[2]
POT = CATALOGUES / "messages.pot"
TRANSLATED = [locale for locale in LOCALES if locale != "en"]  # English is the source
PLACEHOLDER = re.compile(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]")


def load(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


def ids(catalog: Catalog) -> set[str | tuple[str, ...]]:
    return {message.id for message in catalog if message.id}


def forms(value: str | tuple[str, ...] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def test_the_template_is_up_to_date_with_the_sources(tmp_path: Path) -> None:
    fresh = tmp_path / "messages.pot"
    CommandLineInterface().run(
        [
            "pybabel",
            "--quiet",
            "extract",
            "--mapping-file",
            str(ROOT / "babel.cfg"),
            "--keyword",
            "N_",
            "--no-location",
            "--output-file",
            str(fresh),
            str(ROOT / "ideas"),
            str(ROOT / "web"),
            str(ROOT / "templates"),
        ]
    )
    extracted, stored = ids(load(fresh)), ids(load(POT))
    missing, stale = extracted - stored, stored - extracted
    assert not missing and not stale, (
        f"re-extract the catalogue (see babel.cfg): new {sorted(map(str, missing))}, "
        f"gone {sorted(map(str, stale))}"
    )
    assert len(extracted) > 100  # the extraction did find the templates and the sources


@pytest.mark.parametrize("locale", TRANSLATED)
def test_every_message_is_translated(locale: str) -> None:
    po = load(CATALOGUES / locale / "LC_MESSAGES" / "messages.po", locale)
    template = ids(load(POT))
    assert ids(po) == template, "run `pybabel update` (see babel.cfg)"
    assert po.num_plurals == 2
    untranslated = []
    for message in po:
        if not message.id:
            continue
        strings = forms(message.string)
        if message.fuzzy or not strings or not all(s.strip() for s in strings):
            untranslated.append(message.id)
        if message.pluralizable:
            assert len(strings) == po.num_plurals, message.id
    assert not untranslated, f"untranslated or fuzzy in {locale}: {untranslated}"
    assert not po.obsolete, f"obsolete entries in {locale}: {list(po.obsolete)}"


@pytest.mark.parametrize("locale", TRANSLATED)
def test_translations_keep_the_placeholders(locale: str) -> None:
    po = load(CATALOGUES / locale / "LC_MESSAGES" / "messages.po", locale)
    for message in po:
        if not message.id:
            continue
        expected = set().union(*(placeholders(text) for text in forms(message.id)))
        values = {name: 1 for name in expected}
        for translated in forms(message.string):
            assert placeholders(translated) == expected, (message.id, translated)
            if expected or message.python_format:
                translated % values  # a stray % would fail here, as it would on the page


@pytest.mark.parametrize("locale", TRANSLATED)
def test_the_runtime_reads_the_catalogue(locale: str) -> None:
    catalogue = translations(locale)
    assert catalogue.gettext("Submit an idea") != "Submit an idea"
    assert catalogue.ngettext("%(num)d vote", "%(num)d votes", 3) % {"num": 3} != "3 votes"
    assert negotiate(f"{locale}-XX,{locale};q=0.9") == locale
