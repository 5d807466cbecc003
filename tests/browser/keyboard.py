"""Driving a page with the keyboard alone, as a person without a mouse does: Tab and Shift+Tab
move the focus, Enter and Space act, and each stop is read as assistive technology reads it —
its role and accessible name, from Playwright's ARIA snapshot of the focused element."""

from __future__ import annotations

import re

from playwright.sync_api import Page

# The snapshot's first line: - role "name" (the name quoted, with \" inside), or all of that
# in YAML's single quotes (' doubled) when the name holds ": " and the like.
SNAPSHOT_LINE = re.compile(r'^- (?P<role>[\w-]+)(?: "(?P<name>(?:[^"\\]|\\.)*)")?')
YAML_QUOTED = re.compile(r"^- '((?:[^']|'')*)'")


def focus_stop(page: Page) -> str:
    """The focused element as its role and accessible name: 'link "Sign up"'."""
    focused = page.locator(":focus")
    line = focused.aria_snapshot().splitlines()[0]
    if line.startswith("- text") and focused.evaluate("element => element.tagName") == "SUMMARY":
        # ARIA has no role for a <details>' summary: browsers expose a disclosure named by its
        # text, and so does this.
        return f'summary "{focused.inner_text().strip()}"'
    quoted = YAML_QUOTED.match(line)
    if quoted:
        line = "- " + quoted.group(1).replace("''", "'")
    found = SNAPSHOT_LINE.match(line)
    assert found, f"unexpected ARIA snapshot of the focused element: {line}"
    name = found.group("name")
    return found.group("role") if name is None else f'{found.group("role")} "{name}"'


def press_tab(page: Page, backwards: bool = False) -> str:
    """Moves the focus one stop; the control reached must have an accessible name."""
    page.keyboard.press("Shift+Tab" if backwards else "Tab")
    stop = focus_stop(page)
    assert '"' in stop and not stop.endswith('""'), (
        f"the focus is on a control with no name: {stop}"
    )
    return stop


def tab_order(page: Page, count: int, backwards: bool = False) -> list[str]:
    """The next `count` focus stops, in order."""
    return [press_tab(page, backwards) for _ in range(count)]


def tab_to(page: Page, stop: str, limit: int = 30, backwards: bool = False) -> list[str]:
    """Tabs until `stop` has the focus; returns the stops on the way, the last being `stop`."""
    passed: list[str] = []
    for _ in range(limit):
        passed.append(press_tab(page, backwards))
        if passed[-1] == stop:
            return passed
    raise AssertionError(f"{stop} not reached in {limit} presses of Tab: {passed}")


def skip_to_main(page: Page) -> None:
    """The first stop of every page is the skip link: it takes the focus to the main content,
    so the next Tab reaches the page's own first control."""
    assert press_tab(page).startswith("link "), "the skip link is not the first focus stop"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
