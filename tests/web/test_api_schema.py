"""schemathesis against the JSON API, in process: for every operation that the OpenAPI document
(/api/v1/openapi.json) describes, generated requests - ones that fit the schema and ones that
break it - never get a 5xx, and every answer (status code, content type, headers, body) is one
that the document gives for that operation. Run as the team (a bearer token: every operation is
open to it) and as nobody (the refusals must be documented too).

The requests are generated with each operation's Hypothesis strategy (schemathesis's pytest
plugin reaches into pytest internals that pytest 9 no longer has)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.applications import Starlette

from ideas import accounts, boards, comments, merges, roadmap
from ideas import ideas as idea_rules
from ideas.db import Database
from ideas.models import Theme, ThemeIdea
from web.openapi import document

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
METHODS = {"get", "put", "post", "delete", "patch"}
OPERATIONS = sorted(
    f"{method.upper()} {path}"
    for path, item in document("http://testserver")["paths"].items()
    for method in item
    if method in METHODS
)

bounded = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,  # the same requests on every run: a failure here is reproducible
    database=None,
    suppress_health_check=list(HealthCheck),
)


@dataclass
class World:
    """What the generated requests can find, so that they get past "not found"."""

    token: str  # a staff member's API token
    board: str
    ids: dict[str, list[int]]  # by the path's first segment after /api/v1/


def make_world(db: Database) -> World:
    with db.transaction() as session:
        team = accounts.create_user(session, "team@example.com", "Team", None, "staff")
        member = accounts.create_user(session, "ada@example.com", "Ada", None)
        board = boards.create_board(session, None, "Mobile", "", 3)
        first = idea_rules.submit(session, member, board, "Offline mode for the app", "Trains.")
        second = idea_rules.submit(session, team, board, "Dark mode everywhere", "")
        third = idea_rules.submit(session, member, board, "A darker dark mode", "")
        merges.merge(session, team, third, second)
        comments.add(session, member, first, "Yes please")
        item = roadmap.create(session, team, roadmap.Fields("Offline first"), [first])
        theme = Theme(auto_name="offline · mode")
        session.add(theme)
        session.flush()
        session.add_all(ThemeIdea(theme_id=theme.id, idea_id=i.id) for i in (first, second))
        ids = {
            "ideas": [first.id, second.id, third.id],
            "roadmap": [item.id],
            "themes": [theme.id],
        }
        return World(accounts.create_api_token(session, team), board.slug, ids)


def fuzz(app: Starlette, world: World, label: str, headers: dict[str, str]) -> None:
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    operation = schema.find_operation_by_label(label)
    assert operation is not None, label
    strategies = [
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    ]
    if "{id}" in operation.path:  # half of the cases name a row that exists
        known = world.ids[operation.path.split("/")[3]]
        strategies += [
            st.sampled_from(known).flatmap(
                lambda id_, mode=mode: operation.as_strategy(mode, path_parameters={"id": id_})
            )
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        ]

    @bounded
    @given(case=st.one_of(strategies), real_board=st.booleans())
    def run(case: Any, real_board: bool) -> None:
        if real_board and isinstance(case.body, dict) and "board" in case.body:
            case.body["board"] = world.board
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()


@pytest.mark.parametrize("label", OPERATIONS)
def test_api_as_staff(app: Starlette, db: Database, label: str) -> None:
    world = make_world(db)
    fuzz(app, world, label, {"Authorization": f"Bearer {world.token}"})


@pytest.mark.parametrize("label", OPERATIONS)
def test_api_as_nobody(app: Starlette, db: Database, label: str) -> None:
    fuzz(app, make_world(db), label, {})
