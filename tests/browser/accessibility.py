"""Accessibility checks in the browser: axe-core (vendored by `make vendor`, pinned in
package.json) run on the page as the reader sees it.

axe is put into the page with Playwright's `evaluate`, which goes through the DevTools protocol:
the portal's Content Security Policy (script-src 'self') governs the page's own scripts, not
that, so nothing is loosened for the test and a CSP report still means a real fault."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

AXE = Path(__file__).with_name("vendor") / "axe-4.14.1.min.js"
BLOCKING = ("serious", "critical")  # the impacts a page must not have

RUN_AXE = """async (blocking) => {
  const results = await axe.run(document, {resultTypes: ["violations"]});
  return results.violations
    .filter((violation) => blocking.includes(violation.impact))
    .map((violation) => ({
      id: violation.id,
      impact: violation.impact,
      help: violation.help,
      targets: violation.nodes.map((node) => node.target.join(" ")),
    }));
}"""


@cache
def _axe_source() -> str:
    return AXE.read_text("utf-8")


def serious_violations(page: Any) -> list[str]:  # a Playwright Page
    """The page's serious and critical axe violations, one line each: rule, impact, what it
    asks, and the elements at fault."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(_axe_source())
    found = page.evaluate(RUN_AXE, list(BLOCKING))
    path = page.url.split("://", 1)[-1].split("/", 1)[-1]
    return [
        f"/{path}: {each['id']} ({each['impact']}: {each['help']}) at {', '.join(each['targets'])}"
        for each in found
    ]
