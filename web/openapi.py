"""The OpenAPI 3.1 document of /api/v1 (kept beside web/api.py; tests check that the two agree
and that every response the API gives validates against the schema written here)."""

from __future__ import annotations

import copy
from typing import Any

from ideas.comments import BODY_LIMITS
from ideas.ideas import DESCRIPTION_LIMITS, NOTE_LIMIT, PER_PAGE, SORTS, STATUSES, TITLE_LIMITS

JSON = "application/json"


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def array_of(name: str) -> dict[str, Any]:
    return {"type": "array", "items": ref(name)}


def response(description: str, schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}, **extra}


def errors(*names: str) -> dict[str, Any]:
    """The shared error responses, by status code."""
    return {str(ERROR_STATUS[name]): {"$ref": f"#/components/responses/{name}"} for name in names}


def id_parameter() -> dict[str, Any]:
    return {
        "name": "id",
        "in": "path",
        "required": True,
        "description": "The idea's id.",
        "schema": {"type": "integer", "minimum": 1},
    }


# Who may call an operation. Reading needs no credentials (signed in, staff also see hidden
# ideas and comments); changing needs a bearer token, or the browser session with its CSRF token.
OPTIONAL_AUTH: list[dict[str, list[str]]] = [{}, {"bearerToken": []}, {"session": []}]
AUTH: list[dict[str, list[str]]] = [{"bearerToken": []}, {"session": [], "csrfToken": []}]

ERROR_STATUS = {
    "BadRequest": 400,
    "InvalidQuery": 400,
    "Unauthorized": 401,
    "Forbidden": 403,
    "NotFound": 404,
    "Conflict": 409,
    "TooLarge": 413,
    "TooManyRequests": 429,
}

# The responses every change can give before it reaches its endpoint or the domain.
WRITE_ERRORS = ("BadRequest", "Unauthorized", "Forbidden", "TooLarge")

# -- Schemas -------------------------------------------------------------------------------------

STRING = {"type": "string"}
TIMESTAMP = {"type": "string", "format": "date-time", "description": "ISO 8601, UTC."}
COUNT = {"type": "integer", "minimum": 0}

COMMENT_PROPERTIES: dict[str, Any] = {
    "id": {"type": "integer", "minimum": 1},
    "body": {"type": "string", "description": "Markdown source."},
    "author": {"type": "string", "description": "The author's display name."},
    "parent_id": {
        "type": ["integer", "null"],
        "description": "The comment this one replies to; null for a comment on the idea.",
    },
    "created_at": TIMESTAMP,
}

SCHEMAS: dict[str, Any] = {
    "Board": {
        "type": "object",
        "properties": {
            "slug": {"type": "string", "pattern": "^[a-z0-9-]+$", "description": "Its id in URLs."},
            "name": {"type": "string"},
            "description": {"type": "string"},
            "vote_budget": {
                "type": ["integer", "null"],
                "minimum": 1,
                "description": "Votes each person may have on the board's open ideas; "
                "null for no limit.",
            },
        },
        "required": ["slug", "name", "description", "vote_budget"],
        "additionalProperties": False,
    },
    "Status": {"type": "string", "enum": list(STATUSES)},
    "Idea": {
        "type": "object",
        "properties": {
            "id": {"type": "integer", "minimum": 1},
            "title": {"type": "string", "minLength": 1, "maxLength": TITLE_LIMITS[1]},
            "description": {"type": "string", "description": "Markdown source."},
            "status": ref("Status"),
            "votes": COUNT,
            "comments": COUNT,
            "board": {"type": "string", "description": "The board's slug."},
            "author": {"type": "string", "description": "The author's display name."},
            "created_at": TIMESTAMP,
            "url": {"type": "string", "format": "uri", "description": "The idea's page."},
            "merged_into": {
                "type": ["integer", "null"],
                "description": "The idea this one was merged into (its votes count there).",
            },
        },
        "required": [
            "id",
            "title",
            "description",
            "status",
            "votes",
            "comments",
            "board",
            "author",
            "created_at",
            "url",
            "merged_into",
        ],
        "additionalProperties": False,
    },
    "SimilarIdea": {
        "type": "object",
        "properties": {
            "id": {"type": "integer", "minimum": 1},
            "title": {"type": "string", "minLength": 1, "maxLength": TITLE_LIMITS[1]},
            "status": ref("Status"),
            "votes": COUNT,
            "score": {
                "type": "number",
                "minimum": 0,
                "maximum": 1,
                "description": "How alike the two look (calibrated: higher is closer).",
            },
            "url": {"type": "string", "format": "uri", "description": "The idea's page."},
        },
        "required": ["id", "title", "status", "votes", "score", "url"],
        "additionalProperties": False,
    },
    "IdeaList": {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": ref("Idea"), "maxItems": PER_PAGE},
            "total": {**COUNT, "description": "Ideas matching the filters, on all pages."},
            "page": {"type": "integer", "minimum": 1},
            "pages": {"type": "integer", "minimum": 1},
        },
        "required": ["items", "total", "page", "pages"],
        "additionalProperties": False,
    },
    "VoteState": {
        "type": "object",
        "properties": {
            "votes": {**COUNT, "description": "The idea's votes."},
            "voted": {"type": "boolean", "description": "Whether the caller votes for it."},
            "remaining": {
                "type": ["integer", "null"],
                "minimum": 0,
                "description": "The caller's votes left on the board; null without a budget.",
            },
        },
        "required": ["votes", "voted", "remaining"],
        "additionalProperties": False,
    },
    "Comment": {
        "type": "object",
        "properties": COMMENT_PROPERTIES,
        "required": list(COMMENT_PROPERTIES),
        "additionalProperties": False,
    },
    "CommentThread": {
        "description": "A comment on the idea with its replies (one level), oldest first.",
        "type": "object",
        "properties": {
            **COMMENT_PROPERTIES,
            "parent_id": {"type": "null"},
            "replies": {"type": "array", "items": ref("Comment")},
        },
        "required": [*COMMENT_PROPERTIES, "replies"],
        "additionalProperties": False,
    },
    "NewIdea": {
        "type": "object",
        "properties": {
            "title": {
                "type": "string",
                "minLength": TITLE_LIMITS[0],
                "maxLength": TITLE_LIMITS[1],
                "description": "Runs of white space count as one space.",
            },
            "description": {"type": "string", "maxLength": DESCRIPTION_LIMITS[1], "default": ""},
            "board": {"type": "string", "description": "The board's slug."},
        },
        "required": ["title", "board"],
        "additionalProperties": False,
    },
    "NewComment": {
        "type": "object",
        "properties": {
            "body": {"type": "string", "minLength": BODY_LIMITS[0], "maxLength": BODY_LIMITS[1]},
            "parent_id": {
                "type": ["integer", "null"],
                "description": "Reply to this comment of the same idea; a reply to a reply "
                "joins the same thread.",
            },
        },
        "required": ["body"],
        "additionalProperties": False,
    },
    "MergeRequest": {
        "type": "object",
        "properties": {
            "into": {
                "type": "integer",
                "minimum": 1,
                "description": "The idea to merge into (or, if that one was merged, the idea "
                "it lives on in).",
            },
        },
        "required": ["into"],
        "additionalProperties": False,
    },
    "StatusChange": {
        "type": "object",
        "properties": {
            "status": ref("Status"),
            "note": {
                "type": "string",
                "maxLength": NOTE_LIMIT,
                "default": "",
                "description": "Sent to the idea's followers with the change.",
            },
        },
        "required": ["status"],
        "additionalProperties": False,
    },
    "Error": {
        "type": "object",
        "properties": {
            "error": {"type": "string", "minLength": 1, "description": "In the caller's language."},
            "fields": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": "For bad input: a message for each field that needs correcting.",
            },
        },
        "required": ["error"],
        "additionalProperties": False,
    },
    "ValidationError": {
        "type": "object",
        "properties": {
            "error": {"type": "string", "minLength": 1},
            "fields": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "minProperties": 1,
            },
        },
        "required": ["error", "fields"],
        "additionalProperties": False,
    },
}

RESPONSES: dict[str, Any] = {
    "BadRequest": response(
        "Bad input: `fields` gives a message for each field to correct; or the body is not a JSON "
        "object.",
        ref("Error"),
    ),
    "InvalidQuery": response(
        "A query parameter has a value it cannot take; `fields` says which.", ref("ValidationError")
    ),
    "Unauthorized": response(
        "No credentials, or a token that is not valid: sign in first.", ref("Error")
    ),
    "Forbidden": response(
        "Not allowed: the role is missing, the account is blocked, comments are locked, or a "
        "session's request came without its CSRF token.",
        ref("Error"),
    ),
    "NotFound": response("No such idea, or it is hidden from the caller.", ref("Error")),
    "Conflict": response("A rule forbids it now, e.g. no votes left on the board.", ref("Error")),
    "TooLarge": response("The request body is too large.", ref("Error")),
    "TooManyRequests": response("Rate limited: wait a moment and try again.", ref("Error")),
}

SECURITY_SCHEMES: dict[str, Any] = {
    "bearerToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token (`ideas-portal token create`), acting as its user. "
        "Requests with a token need no CSRF token.",
    },
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": "ideas_session",
        "description": "The browser session of a signed-in user.",
    },
    "csrfToken": {
        "type": "apiKey",
        "in": "header",
        "name": "X-CSRF-Token",
        "description": "Required with the session cookie on POST and DELETE: the token a page "
        'gives in `<meta name="csrf-token">`.',
    },
}

# -- Paths ---------------------------------------------------------------------------------------

LIST_PARAMETERS: list[dict[str, Any]] = [
    {"name": "board", "in": "query", "description": "A board's slug.", "schema": STRING},
    {"name": "status", "in": "query", "schema": ref("Status")},
    {
        "name": "sort",
        "in": "query",
        "description": "`trending`: votes in the last two weeks first; `top`: most votes; "
        "`new`: newest.",
        "schema": {"type": "string", "enum": list(SORTS), "default": "trending"},
    },
    {
        "name": "q",
        "in": "query",
        "description": "Words to find in titles and descriptions (all must occur); only the "
        "first 200 characters are read.",
        "schema": STRING,
    },
    {
        "name": "page",
        "in": "query",
        "description": f"{PER_PAGE} ideas a page; a value that is not a page number reads as 1.",
        "schema": {"type": "integer", "minimum": 1, "default": 1},
    },
]

PATHS: dict[str, Any] = {
    "/api/v1/openapi.json": {
        "get": {
            "operationId": "getOpenApi",
            "summary": "This document",
            "tags": ["meta"],
            "responses": {"200": response("The OpenAPI document.", {"type": "object"})},
        }
    },
    "/api/v1/boards": {
        "get": {
            "operationId": "listBoards",
            "summary": "The boards",
            "tags": ["boards"],
            "security": OPTIONAL_AUTH,
            "responses": {
                "200": response("All boards, oldest first.", array_of("Board")),
            },
        }
    },
    "/api/v1/ideas": {
        "get": {
            "operationId": "listIdeas",
            "summary": "Ideas, filtered, sorted and a page at a time",
            "description": "Hidden ideas are listed for staff only.",
            "tags": ["ideas"],
            "security": OPTIONAL_AUTH,
            "parameters": LIST_PARAMETERS,
            "responses": {
                "200": response("One page of ideas.", ref("IdeaList")),
                **errors("InvalidQuery"),
                "404": response("There is no board with this slug.", ref("Error")),
            },
        },
        "post": {
            "operationId": "createIdea",
            "summary": "Submit an idea",
            "description": "Any signed-in member. The author follows the idea and their vote "
            "is cast, unless the board's vote budget has none left for them.",
            "tags": ["ideas"],
            "security": AUTH,
            "x-role": "member",
            "requestBody": {"required": True, "content": {JSON: {"schema": ref("NewIdea")}}},
            "responses": {
                "201": response(
                    "The idea, as stored.",
                    ref("Idea"),
                    headers={
                        "Location": {
                            "description": "The idea's page.",
                            "required": True,
                            "schema": {"type": "string", "format": "uri"},
                        }
                    },
                ),
                **errors(*WRITE_ERRORS, "TooManyRequests"),
            },
        },
    },
    "/api/v1/ideas/similar": {
        "get": {
            "operationId": "similarIdeas",
            "summary": "The ideas closest to a text",
            "description": "What the submit form shows while a title is typed: the nearest "
            "ideas by meaning, best first. Merged and hidden ideas never show; shipped and "
            "declined ones do.",
            "tags": ["ideas"],
            "security": OPTIONAL_AUTH,
            "parameters": [
                {
                    "name": "q",
                    "in": "query",
                    "required": True,
                    "description": "The text, e.g. a title being typed (first 300 characters).",
                    "schema": {"type": "string", "minLength": 1},
                },
                {
                    "name": "board",
                    "in": "query",
                    "description": "A board's slug.",
                    "schema": STRING,
                },
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 20, "default": 5},
                },
            ],
            "responses": {
                "200": response("The closest ideas, best first.", array_of("SimilarIdea")),
                **errors("InvalidQuery"),
                "404": response("There is no board with this slug.", ref("Error")),
            },
        },
    },
    "/api/v1/ideas/{id}": {
        "parameters": [id_parameter()],
        "get": {
            "operationId": "getIdea",
            "summary": "One idea",
            "tags": ["ideas"],
            "security": OPTIONAL_AUTH,
            "responses": {"200": response("The idea.", ref("Idea")), **errors("NotFound")},
        },
    },
    "/api/v1/ideas/{id}/vote": {
        "parameters": [id_parameter()],
        "post": {
            "operationId": "vote",
            "summary": "Vote for the idea",
            "description": "Voting twice counts once. On a board with a vote budget, a vote "
            "needs one left (409 otherwise). No body is needed.",
            "tags": ["votes"],
            "security": AUTH,
            "x-role": "member",
            "responses": {
                "200": response("The idea's votes after the vote.", ref("VoteState")),
                **errors(*WRITE_ERRORS, "NotFound", "Conflict", "TooManyRequests"),
            },
        },
        "delete": {
            "operationId": "unvote",
            "summary": "Take the vote back",
            "description": "Taking back a vote not given changes nothing.",
            "tags": ["votes"],
            "security": AUTH,
            "x-role": "member",
            "responses": {
                "200": response("The idea's votes after taking the vote back.", ref("VoteState")),
                **errors(*WRITE_ERRORS, "NotFound", "TooManyRequests"),
            },
        },
    },
    "/api/v1/ideas/{id}/comments": {
        "parameters": [id_parameter()],
        "get": {
            "operationId": "listComments",
            "summary": "The idea's comments with their replies",
            "description": "Hidden comments are listed for staff only.",
            "tags": ["comments"],
            "security": OPTIONAL_AUTH,
            "responses": {
                "200": response(
                    "Comments on the idea, oldest first, each with its replies.",
                    array_of("CommentThread"),
                ),
                **errors("NotFound"),
            },
        },
        "post": {
            "operationId": "addComment",
            "summary": "Comment on the idea, or reply to a comment",
            "tags": ["comments"],
            "security": AUTH,
            "x-role": "member",
            "requestBody": {"required": True, "content": {JSON: {"schema": ref("NewComment")}}},
            "responses": {
                "201": response("The comment, as stored.", ref("Comment")),
                **errors(*WRITE_ERRORS, "NotFound", "TooManyRequests"),
            },
        },
    },
    "/api/v1/ideas/{id}/status": {
        "parameters": [id_parameter()],
        "post": {
            "operationId": "setStatus",
            "summary": "Move the idea to another status",
            "description": "Staff and admins only; the idea's followers are notified.",
            "tags": ["ideas"],
            "security": AUTH,
            "x-role": "staff",
            "requestBody": {"required": True, "content": {JSON: {"schema": ref("StatusChange")}}},
            "responses": {
                "200": response("The idea after the change.", ref("Idea")),
                **errors(*WRITE_ERRORS, "NotFound"),
            },
        },
    },
    "/api/v1/ideas/{id}/merge": {
        "parameters": [id_parameter()],
        "post": {
            "operationId": "mergeIdea",
            "summary": "Merge the idea into another one",
            "description": "Staff and admins only. The idea leaves the lists; its voters count "
            "once on the surviving idea and its followers follow it (and are notified). "
            "409 when the idea is already merged.",
            "tags": ["ideas"],
            "security": AUTH,
            "x-role": "staff",
            "requestBody": {"required": True, "content": {JSON: {"schema": ref("MergeRequest")}}},
            "responses": {
                "200": response("The surviving idea.", ref("Idea")),
                **errors(*WRITE_ERRORS, "NotFound", "Conflict"),
            },
        },
    },
    "/api/v1/ideas/{id}/unmerge": {
        "parameters": [id_parameter()],
        "post": {
            "operationId": "unmergeIdea",
            "summary": "Undo the idea's merge",
            "description": "Staff and admins only. Restores the state before the merge: "
            "counts, followers, lists. 409 when the idea is not merged.",
            "tags": ["ideas"],
            "security": AUTH,
            "x-role": "staff",
            "responses": {
                "200": response("The restored idea.", ref("Idea")),
                **errors(*WRITE_ERRORS, "NotFound", "Conflict"),
            },
        },
    },
}


def document(server: str) -> dict[str, Any]:
    """The whole document, with `server` (e.g. https://ideas.example.com) as its server."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Ideas portal API",
            "version": "1",
            "summary": "Ideas, votes and comments of the idea portal, as JSON.",
            "description": 'Errors are `{"error": "...", "fields": {...}}`: 400 bad input, '
            "401 no credentials, 403 not allowed, 404 not found, 409 a rule forbids it, 413 body "
            "too large, 429 rate limited. `x-role` names the role an operation needs.",
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "servers": [{"url": server}],
        "tags": [
            {"name": "boards"},
            {"name": "ideas"},
            {"name": "votes"},
            {"name": "comments"},
            {"name": "meta"},
        ],
        "paths": copy.deepcopy(PATHS),
        "components": copy.deepcopy(
            {"schemas": SCHEMAS, "responses": RESPONSES, "securitySchemes": SECURITY_SCHEMES}
        ),
    }
