"""The OpenAPI document (web/openapi.py) against the route table and against what the API answers:
every /api/v1 route is documented and nothing else is, and the responses of a realistic sequence
of calls validate against the schemas the document gives for them."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from openapi_spec_validator import validate as validate_spec
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from starlette.routing import Route
from starlette.testclient import TestClient

from ideas import accounts, weekly
from ideas.db import Database
from ideas.models import User
from ideas.settings import Settings
from tests.conftest import csrf_of, sign_in
from web.app import create_app, routes
from web.openapi import document

API = "/api/v1"
BASE = "urn:ideas-portal:openapi"
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
DOCUMENT = document("http://testserver")
REGISTRY: Registry = Registry().with_resource(BASE, DRAFT202012.create_resource(DOCUMENT))


# Helpers --------------------------------------------------------------------------------------


def pointer(*parts: str) -> str:
    """A JSON pointer (RFC 6901) to a place in the document."""
    return "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in parts)


def validator_at(json_pointer: str) -> Draft202012Validator:
    """Validates against the schema at that place; its "#/components/..." refs resolve in the
    whole document."""
    return Draft202012Validator(
        {"$ref": f"{BASE}#{json_pointer}"},
        registry=REGISTRY,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def schema_of(name: str) -> Draft202012Validator:
    return validator_at(pointer("components", "schemas", name))


def template_of(path: str) -> str:
    """The documented path that a concrete path (/api/v1/ideas/7) matches (/api/v1/ideas/{id})."""
    for template in DOCUMENT["paths"]:
        if re.fullmatch(re.sub(r"\{\w+\}", "[^/]+", template), path):
            return template
    raise AssertionError(f"{path} matches no documented path")


def documented_response(method: str, path: str, status: int) -> tuple[dict[str, Any], str]:
    """The response object for a call and a pointer to its place (following a $ref)."""
    template = template_of(path)
    operation = DOCUMENT["paths"][template].get(method)
    assert operation, f"{method.upper()} {template} is not documented"
    found = operation["responses"].get(str(status))
    assert found, f"{method.upper()} {template} does not document status {status}"
    place = pointer("paths", template, method, "responses", str(status))
    if "$ref" in found:
        place = found["$ref"].removeprefix("#")
        name = place.rsplit("/", 1)[1]
        found = DOCUMENT["components"]["responses"][name]
    return found, place


def check(method: str, path: str, status: int, body: Any, headers: Any = None) -> None:
    """Asserts that `body` (parsed JSON) is what the document says this call answers."""
    found, place = documented_response(method.lower(), path, status)
    schema_place = place + pointer("content", "application/json", "schema")
    validator_at(schema_place).validate(body)
    for name, header in found.get("headers", {}).items():
        if header.get("required"):
            assert headers is not None and name in headers, f"{name} header missing"


SEEN: set[tuple[str, str, int]] = set()


def conforms(response: Any) -> Any:
    """Checks a test client's response against the document (and, for a call that succeeded, the
    JSON body it sent against the documented request body); records (path, method, status)."""
    request = response.request
    assert response.headers["content-type"] == "application/json"
    check(request.method, request.url.path, response.status_code, response.json(), response.headers)
    template = template_of(request.url.path)
    SEEN.add((template, request.method.lower(), response.status_code))
    operation = DOCUMENT["paths"][template][request.method.lower()]
    if response.is_success and request.content and "requestBody" in operation:
        schema = pointer("paths", template, request.method.lower(), "requestBody", "content")
        validator_at(schema + pointer("application/json", "schema")).validate(
            json.loads(request.content)
        )
    return response


def bearer(db: Database, user: User) -> dict[str, str]:
    with db.transaction() as session:
        token = accounts.create_api_token(session, user)
    return {"Authorization": f"Bearer {token}"}


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in DOCUMENT["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


# The document and the route table -------------------------------------------------------------


def test_every_api_route_is_documented_and_nothing_else() -> None:
    in_routes = set()
    for route in routes:
        if isinstance(route, Route) and route.path.startswith(API + "/"):
            path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
            for method in route.methods or ():
                if method != "HEAD":
                    in_routes.add((path, method.lower()))
    documented = {(path, method) for path, method, _ in operations()}
    assert in_routes == documented
    assert len(documented) == 21


def test_the_served_document_is_valid_openapi_3_1(client: TestClient) -> None:
    response = client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    served = response.json()
    assert served == document("http://testserver")
    assert served["openapi"].startswith("3.1")
    assert served["servers"] == [{"url": "http://testserver"}]
    assert {"title", "version"} <= set(served["info"])
    validate_spec(served)  # raises on any structural mistake
    conforms(response)


def test_the_document_is_fresh_data_each_time() -> None:
    first = document("https://one.example")
    first["paths"].clear()
    first["components"]["schemas"]["Idea"]["required"].clear()
    second = document("https://two.example")
    assert second["paths"] and second["components"]["schemas"]["Idea"]["required"]
    assert second["servers"] == [{"url": "https://two.example"}]


def test_operations_name_themselves_and_their_errors() -> None:
    ids = [operation["operationId"] for _, _, operation in operations()]
    assert len(ids) == len(set(ids))
    for path, method, operation in operations():
        responses = operation["responses"]
        assert operation.get("summary"), (path, method)
        assert any(code.startswith("2") for code in responses), (path, method)
        if "{id}" in path:
            assert "404" in responses, (path, method)
        if method != "get":  # changes: credentials, a role, and the guards' answers
            assert operation["security"] == [
                {"bearerToken": []},
                {"session": [], "csrfToken": []},
            ], (path, method)
            assert operation["x-role"] in {"member", "staff"}
            assert {"400", "401", "403", "413"} <= set(responses), (path, method)
        elif "x-role" in operation:  # a read for the team only: credentials, no CSRF token
            assert operation["x-role"] == "staff", (path, method)
            assert operation["security"] == [{"bearerToken": []}, {"session": []}]
            assert {"401", "403"} <= set(responses), (path, method)
        else:
            assert "401" not in responses, (path, method)
    assert DOCUMENT["paths"]["/api/v1/ideas/{id}/status"]["post"]["x-role"] == "staff"
    schemes = DOCUMENT["components"]["securitySchemes"]
    assert schemes["bearerToken"] == {**schemes["bearerToken"], "type": "http", "scheme": "bearer"}
    assert (schemes["csrfToken"]["in"], schemes["csrfToken"]["name"]) == ("header", "X-CSRF-Token")


def test_list_parameters_are_described() -> None:
    parameters = {p["name"]: p for p in DOCUMENT["paths"][f"{API}/ideas"]["get"]["parameters"]}
    assert set(parameters) == {"board", "status", "sort", "q", "page"}
    assert parameters["sort"]["schema"]["enum"] == ["trending", "top", "new"]
    assert schema_of("Status").is_valid("in_progress") and not schema_of("Status").is_valid("done")
    assert parameters["page"]["schema"] == {"type": "integer", "minimum": 1, "default": 1}


def test_every_ref_points_somewhere() -> None:
    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            found = [node["$ref"]] if "$ref" in node else []
            return found + [ref for value in node.values() for ref in refs(value)]
        if isinstance(node, list):
            return [ref for value in node for ref in refs(value)]
        return []

    for ref in refs(DOCUMENT):
        section, kind, name = ref.removeprefix("#/").split("/")
        assert name in DOCUMENT[section][kind], ref


def test_the_schemas_are_strict() -> None:
    idea = {
        "id": 1,
        "title": "Export the roadmap",
        "description": "",
        "status": "open",
        "votes": 1,
        "comments": 0,
        "board": "mobile",
        "author": "Ada",
        "created_at": "2024-05-01T10:00:00+00:00",
        "url": "http://testserver/ideas/1",
        "merged_into": None,
    }
    assert schema_of("Idea").is_valid(idea)
    assert schema_of("Idea").is_valid({**idea, "merged_into": 7})
    assert not schema_of("Idea").is_valid({**idea, "secret": "x"})
    assert not schema_of("Idea").is_valid(
        {key: value for key, value in idea.items() if key != "url"}
    )
    assert not schema_of("Idea").is_valid({**idea, "status": "done"})
    assert not schema_of("Idea").is_valid({**idea, "votes": -1})
    assert not schema_of("Idea").is_valid({**idea, "created_at": "yesterday"})
    assert not schema_of("IdeaList").is_valid({"items": [idea], "total": 1, "page": 0, "pages": 1})
    assert schema_of("VoteState").is_valid({"votes": 3, "voted": True, "remaining": None})
    assert not schema_of("VoteState").is_valid({"votes": 3, "voted": "yes", "remaining": None})
    assert schema_of("Error").is_valid({"error": "Nope."})
    assert not schema_of("Error").is_valid({"message": "Nope."})
    assert not schema_of("Error").is_valid({"error": "Nope.", "fields": {"title": 3}})
    comment = {
        "id": 2,
        "body": "Hi",
        "author": "Bo",
        "parent_id": 1,
        "created_at": idea["created_at"],
    }
    assert schema_of("Comment").is_valid(comment)
    assert not schema_of("Comment").is_valid({**comment, "replies": []})
    thread = {**comment, "parent_id": None, "replies": [comment]}
    assert schema_of("CommentThread").is_valid(thread)
    assert not schema_of("CommentThread").is_valid({**thread, "replies": [thread]})
    assert not schema_of("NewIdea").is_valid({"title": "Long enough title"})
    assert not schema_of("StatusChange").is_valid({"status": "planned", "extra": 1})
    with pytest.raises(AssertionError, match="does not document status 418"):
        check("GET", f"{API}/ideas/1", 418, {})
    with pytest.raises(ValidationError):
        check("GET", f"{API}/ideas/1", 200, {**idea, "id": "1"})


# What the API answers validates against the document -------------------------------------------


def test_a_realistic_sequence_of_calls_conforms(
    client: TestClient, db: Database, make_user, make_board
) -> None:
    SEEN.clear()
    ada, bob, team = make_user(name="Ada"), make_user(name="Bob"), make_user("staff", name="Team")
    as_ada, as_bob, as_team = bearer(db, ada), bearer(db, bob), bearer(db, team)
    make_board("Mobile app", vote_budget=2)
    make_board("Web")

    boards = conforms(client.get(f"{API}/boards")).json()
    assert [board["slug"] for board in boards] == ["mobile-app", "web"]
    assert conforms(client.get(f"{API}/ideas")).json()["items"] == []

    # submitting
    first = conforms(
        client.post(
            f"{API}/ideas",
            json={"title": "Offline mode", "description": "For the train.", "board": "mobile-app"},
            headers=as_ada,
        )
    ).json()
    conforms(
        client.post(
            f"{API}/ideas",
            json={"title": "Dark mode please", "board": "mobile-app"},
            headers=as_bob,
        )
    ).json()
    third = conforms(
        client.post(
            f"{API}/ideas", json={"title": "Keyboard shortcuts", "board": "web"}, headers=as_bob
        )
    ).json()
    fourth = conforms(
        client.post(
            f"{API}/ideas",
            json={"title": "Home screen widgets", "board": "mobile-app"},
            headers=as_team,
        )
    ).json()
    conforms(client.post(f"{API}/ideas", json={"title": "Short", "board": "web"}, headers=as_ada))
    conforms(
        client.post(f"{API}/ideas", json={"title": "Long enough", "board": "nope"}, headers=as_ada)
    )
    conforms(client.post(f"{API}/ideas", content=b"{not json", headers=as_ada))
    conforms(client.post(f"{API}/ideas", json=["a list"], headers=as_ada))
    conforms(client.post(f"{API}/ideas", json={"title": "Anonymous idea", "board": "web"}))

    # listing and reading
    for params in (
        {},
        {"board": "mobile-app"},
        {"status": "open"},
        {"sort": "top"},
        {"sort": "new", "page": "2"},
        {"q": "mode"},
        {"q": "nothing matches this"},
    ):
        conforms(client.get(f"{API}/ideas", params=params))
    conforms(client.get(f"{API}/ideas", params={"sort": "best"}))
    conforms(client.get(f"{API}/ideas", params={"status": "done"}))
    conforms(client.get(f"{API}/ideas", params={"board": "nope"}))
    assert conforms(client.get(f"{API}/ideas/{first['id']}")).json() == first
    conforms(client.get(f"{API}/ideas/{third['id'] + 100}"))

    # voting, within the board's budget of two
    assert conforms(client.post(f"{API}/ideas/{first['id']}/vote", headers=as_bob)).json() == {
        "votes": 2,
        "voted": True,
        "remaining": 0,
    }
    conforms(client.post(f"{API}/ideas/{first['id']}/vote", headers=as_bob))
    assert (
        conforms(client.post(f"{API}/ideas/{fourth['id']}/vote", headers=as_bob)).status_code == 409
    )
    conforms(client.delete(f"{API}/ideas/{first['id']}/vote", headers=as_bob))
    conforms(client.post(f"{API}/ideas/{fourth['id']}/vote", headers=as_bob))
    assert conforms(client.post(f"{API}/ideas/{third['id']}/vote", headers=as_ada)).json() == {
        "votes": 2,
        "voted": True,
        "remaining": None,
    }
    conforms(client.post(f"{API}/ideas/{third['id']}/vote"))
    conforms(
        client.delete(f"{API}/ideas/{third['id']}/vote", headers={"Authorization": "Bearer x"})
    )
    conforms(client.post(f"{API}/ideas/{third['id'] + 100}/vote", headers=as_ada))
    conforms(client.delete(f"{API}/ideas/{third['id'] + 100}/vote", headers=as_ada))
    conforms(client.post(f"{API}/ideas/{third['id']}/vote", content=b"[", headers=as_ada))
    conforms(
        client.request("DELETE", f"{API}/ideas/{third['id']}/vote", content=b"[", headers=as_ada)
    )

    # comments
    url = f"{API}/ideas/{first['id']}/comments"
    comment = conforms(client.post(url, json={"body": "Yes please"}, headers=as_bob)).json()
    conforms(client.post(url, json={"body": "Agreed", "parent_id": comment["id"]}, headers=as_team))
    conforms(client.post(url, json={"body": "", "parent_id": 12345}, headers=as_bob))
    conforms(client.post(url, json={"body": "Hi"}))
    conforms(client.post(url, content=b"nope", headers=as_bob))
    conforms(
        client.post(
            f"{API}/ideas/{third['id'] + 100}/comments", json={"body": "Hi"}, headers=as_bob
        )
    )
    threads = conforms(client.get(url)).json()
    assert [len(thread["replies"]) for thread in threads] == [1]
    conforms(client.get(f"{API}/ideas/{third['id'] + 100}/comments"))

    # the team moves ideas
    status_url = f"{API}/ideas/{first['id']}/status"
    moved = conforms(
        client.post(status_url, json={"status": "planned", "note": "Q3"}, headers=as_team)
    )
    assert moved.json()["status"] == "planned"
    conforms(client.post(status_url, json={"status": "done"}, headers=as_team))
    conforms(client.post(status_url, json={"status": "shipped"}, headers=as_bob))
    conforms(client.post(status_url, json={"status": "shipped"}))
    conforms(client.post(status_url, content=b"[]", headers=as_team))
    conforms(
        client.post(
            f"{API}/ideas/{third['id'] + 100}/status", json={"status": "open"}, headers=as_team
        )
    )
    conforms(client.get(f"{API}/ideas", params={"status": "planned"}))
    similar = conforms(client.get(f"{API}/ideas/similar", params={"q": "Offline mode"})).json()
    assert similar[0]["id"] == first["id"]
    conforms(client.get(f"{API}/ideas/similar", params={"q": ""}))

    # the roadmap
    item = conforms(
        client.post(
            f"{API}/roadmap",
            json={"title": "Offline first", "idea_ids": [first["id"]]},
            headers=as_team,
        )
    ).json()
    assert [entry["id"] for entry in conforms(client.get(f"{API}/roadmap")).json()] == [item["id"]]
    conforms(client.get(f"{API}/roadmap/{item['id']}"))

    # themes, for the team (none before the first rebuild)
    assert conforms(client.get(f"{API}/themes", headers=as_team)).json() == []
    conforms(client.get(f"{API}/themes", params={"board": "web"}, headers=as_team))

    # the weekly roadmap updates (a week that is over)
    week = weekly.make(db, "2025-W10", "UTC").snapshot.week
    assert [entry["week"] for entry in conforms(client.get(f"{API}/updates")).json()] == [week]
    assert conforms(client.get(f"{API}/updates/{week}")).json()["schema_version"] == 1
    conforms(client.get(f"{API}/updates/2025-W11"))

    # a browser session: refused without its CSRF token, accepted with it
    sign_in(client, ada.email)
    conforms(client.post(f"{API}/ideas/{third['id']}/vote"))
    token = csrf_of(client, "/")
    conforms(client.post(f"{API}/ideas/{third['id']}/vote", headers={"X-CSRF-Token": token}))
    conforms(client.delete(f"{API}/ideas/{third['id']}/vote", headers={"X-CSRF-Token": token}))

    # every operation's success answer and the common errors were checked above
    expected = {
        (path, method, 200)
        for path, method, _ in operations()
        if method == "get" and path != f"{API}/openapi.json"
    }
    expected |= {
        (f"{API}/ideas", "post", 201),
        (f"{API}/ideas/{{id}}/comments", "post", 201),
        (f"{API}/ideas/{{id}}/vote", "post", 200),
        (f"{API}/ideas/{{id}}/vote", "delete", 200),
        (f"{API}/ideas/{{id}}/status", "post", 200),
        (f"{API}/ideas", "get", 400),
        (f"{API}/ideas", "get", 404),
        (f"{API}/ideas", "post", 400),
        (f"{API}/ideas", "post", 401),
        (f"{API}/ideas/{{id}}", "get", 404),
        (f"{API}/ideas/{{id}}/vote", "post", 409),
        (f"{API}/ideas/{{id}}/vote", "post", 403),
        (f"{API}/ideas/{{id}}/vote", "delete", 401),
        (f"{API}/ideas/{{id}}/status", "post", 403),
        (f"{API}/ideas/{{id}}/status", "post", 401),
        (f"{API}/ideas/{{id}}/status", "post", 400),
        (f"{API}/ideas/{{id}}/comments", "post", 400),
    }
    assert expected <= SEEN, expected - SEEN


def test_hidden_and_locked_answers_conform(
    client: TestClient, db: Database, make_idea, make_user
) -> None:
    from ideas import ideas as idea_rules
    from ideas.models import Idea

    idea, team = make_idea(), make_user("staff")
    with db.transaction() as session:
        actor, stored = session.get_one(User, team.id), session.get_one(Idea, idea.id)
        idea_rules.set_comments_locked(session, actor, stored, True)
    conforms(
        client.post(
            f"{API}/ideas/{idea.id}/comments", json={"body": "Hi"}, headers=bearer(db, make_user())
        )
    )
    with db.transaction() as session:
        idea_rules.set_hidden(
            session, session.get_one(User, team.id), session.get_one(Idea, idea.id), True
        )
    assert conforms(client.get(f"{API}/ideas/{idea.id}")).status_code == 404
    assert (
        conforms(client.get(f"{API}/ideas/{idea.id}", headers=bearer(db, team))).status_code == 200
    )
    assert conforms(client.get(f"{API}/ideas", headers=bearer(db, team))).json()["total"] == 1


def test_guard_answers_conform(settings: Settings, db: Database, make_idea, make_user) -> None:
    limited = replace(
        settings, max_body_bytes=100, rate_limits={"vote": (1, 3600), "submit": (1, 3600)}
    )
    idea = make_idea()
    with TestClient(create_app(limited, db)) as client:
        headers = bearer(db, make_user())
        too_large = client.post(
            f"{API}/ideas/{idea.id}/comments", json={"body": "x" * 200}, headers=headers
        )
        assert conforms(too_large).status_code == 413
        assert (
            conforms(client.post(f"{API}/ideas/{idea.id}/vote", headers=headers)).status_code == 200
        )
        assert (
            conforms(client.delete(f"{API}/ideas/{idea.id}/vote", headers=headers)).status_code
            == 429
        )
        conforms(client.post(f"{API}/ideas", json={"title": "Short"}, headers=headers))
        assert (
            conforms(client.post(f"{API}/ideas", json={"title": "x"}, headers=headers)).status_code
            == 429
        )
