"""The OpenAPI 3.1 document of /api/v1 (kept beside web/api.py; tests check that the two agree
and that every response the API gives validates against the schema written here)."""

from __future__ import annotations

import copy
from typing import Any

from ideas import roadmap
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


def id_parameter(description: str = "The idea's id.") -> dict[str, Any]:
    return {
        "name": "id",
        "in": "path",
        "required": True,
        "description": description,
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

ROADMAP_TITLE = {
    "type": "string",
    "minLength": roadmap.TITLE_LIMITS[0],
    "maxLength": roadmap.TITLE_LIMITS[1],
}
ROADMAP_DESCRIPTION = {
    "type": "string",
    "maxLength": roadmap.DESCRIPTION_LIMITS[1],
    "description": "Markdown; public.",
}
ROADMAP_TARGET = {
    "type": ["string", "null"],
    "pattern": roadmap.TARGET.pattern,
    "description": 'A month ("2027-03") or a quarter ("2027-Q1"); null for none.',
}
ROADMAP_TARGET_INPUT = {
    **ROADMAP_TARGET,
    "pattern": f"^$|{roadmap.TARGET.pattern}",
    "description": 'A month ("2027-03") or a quarter ("2027-Q1"); empty or null for none.',
}
ROADMAP_IMPACT = {
    "type": "number",
    "enum": list(roadmap.IMPACTS),
    "description": "0.25 minimal, 0.5 low, 1 medium, 2 high, 3 massive.",
}
ROADMAP_CONFIDENCE = {"type": "number", "minimum": 0, "maximum": 1}
ROADMAP_EFFORT = {
    "type": "number",
    "exclusiveMinimum": 0,
    "maximum": roadmap.MAX_EFFORT,
    "description": "Person-months.",
}
ROADMAP_NOTE = {
    "type": "string",
    "maxLength": roadmap.NOTE_LIMIT,
    "description": "Public; sent to the linked ideas' followers with a move.",
}
ROADMAP_IDEA_IDS = {
    "type": "array",
    "items": {"type": "integer", "minimum": 1},
    "maxItems": roadmap.MAX_IDEAS,
    "description": "Ideas to link; they take the item's status (merged ideas cannot be linked: "
    "link the idea they were merged into).",
}

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
    "Theme": {
        "description": "Active ideas (not merged, hidden or declined) grouped by what they ask "
        "for. Weighted voters count each customer by their weight, beside the plain count.",
        "type": "object",
        "properties": {
            "id": {"type": "integer", "minimum": 1},
            "name": {"type": "string", "description": "The team's name, else the automatic one."},
            "keywords": {"type": "array", "items": STRING},
            "size": {**COUNT, "description": "Its ideas."},
            "voters": {**COUNT, "description": "Distinct people who vote for any of its ideas."},
            "weighted_voters": {
                "type": "number",
                "minimum": 0,
                "description": "The same people, each counted by their customer weight.",
            },
            "growth": {**COUNT, "description": "Voters new to the theme in the last 7 days."},
            "idea_ids": {"type": "array", "items": {"type": "integer", "minimum": 1}},
        },
        "required": [
            "id",
            "name",
            "keywords",
            "size",
            "voters",
            "weighted_voters",
            "growth",
            "idea_ids",
        ],
        "additionalProperties": False,
    },
    "RoadmapStatus": {"type": "string", "enum": list(roadmap.STATUSES)},
    "WeeklyUpdateSummary": {
        "description": "A week with a stored roadmap update, and the addresses of its files.",
        "type": "object",
        "additionalProperties": False,
        "required": ["week", "starts_at", "ends_at", "time_zone", "urls"],
        "properties": {
            "week": {"type": "string", "pattern": "^[0-9]{4}-W[0-9]{2}$"},
            "starts_at": {"type": "string", "format": "date-time"},
            "ends_at": {"type": "string", "format": "date-time"},
            "time_zone": STRING,
            "urls": {
                "type": "object",
                "additionalProperties": False,
                "required": ["page", "md", "csv", "json"],
                "properties": {
                    name: {"type": "string", "format": "uri"}
                    for name in ("page", "md", "csv", "json")
                },
            },
        },
    },
    "WeeklyUpdate": {
        "description": "A week's JSON export, schema version 1: its full JSON Schema is "
        "docs/weekly-export.schema.json, described in docs/weekly-export.md.",
        "type": "object",
        "required": [
            "schema_version",
            "week",
            "time_zone",
            "starts_at",
            "ends_at",
            "items",
            "themes",
            "new_ideas",
            "changes",
        ],
        "properties": {
            "schema_version": {"const": 1},
            "week": {"type": "string", "pattern": "^[0-9]{4}-W[0-9]{2}$"},
            "items": {"type": "array", "items": {"type": "object"}},
            "themes": {"type": "array", "items": {"type": "object"}},
            "new_ideas": {"type": "array", "items": {"type": "object"}},
            "changes": {"type": "object"},
        },
    },
    "RoadmapItem": {
        "description": "A roadmap item. RICE score = reach × impact × confidence ÷ effort; reach "
        "is `voters` (each person who voted for a linked idea, once), or `weighted_voters` "
        "(their customer weights summed) when `weighted_reach` is true.",
        "type": "object",
        "properties": {
            "id": {"type": "integer", "minimum": 1},
            "title": {"type": "string", "minLength": 1, "maxLength": roadmap.TITLE_LIMITS[1]},
            "description": {"type": "string", "description": "Markdown source; public."},
            "status": ref("RoadmapStatus"),
            "target": ROADMAP_TARGET,
            "note": {"type": "string", "description": "The latest public note (Markdown)."},
            "position": {**COUNT, "description": "Its place in its status column, 0 first."},
            "score": {"type": "number", "minimum": 0},
            "reach": {"type": "number", "minimum": 0, "description": "The reach in the score."},
            "voters": {**COUNT, "description": "Distinct voters of the linked ideas."},
            "weighted_voters": {
                "type": "number",
                "minimum": 0,
                "description": "Those voters' customer weights, summed.",
            },
            "impact": ROADMAP_IMPACT,
            "confidence": ROADMAP_CONFIDENCE,
            "effort": ROADMAP_EFFORT,
            "weighted_reach": {"type": "boolean"},
            "idea_ids": {
                "type": "array",
                "items": {"type": "integer", "minimum": 1},
                "description": "The linked ideas (hidden ones for staff only).",
            },
            "theme_id": {
                "type": ["integer", "null"],
                "description": "The theme it was made from, if any.",
            },
            "created_at": TIMESTAMP,
            "updated_at": TIMESTAMP,
            "shipped_at": {**TIMESTAMP, "type": ["string", "null"]},
            "url": {"type": "string", "format": "uri", "description": "This item in the API."},
        },
        "required": [
            "id",
            "title",
            "description",
            "status",
            "target",
            "note",
            "position",
            "score",
            "reach",
            "voters",
            "weighted_voters",
            "impact",
            "confidence",
            "effort",
            "weighted_reach",
            "idea_ids",
            "theme_id",
            "created_at",
            "updated_at",
            "shipped_at",
            "url",
        ],
        "additionalProperties": False,
    },
    "NewRoadmapItem": {
        "type": "object",
        "properties": {
            "title": ROADMAP_TITLE,
            "description": {**ROADMAP_DESCRIPTION, "default": ""},
            "target": {**ROADMAP_TARGET_INPUT, "default": None},
            "impact": {**ROADMAP_IMPACT, "default": 1},
            "confidence": {**ROADMAP_CONFIDENCE, "default": 0.8},
            "effort": {**ROADMAP_EFFORT, "default": 1},
            "weighted_reach": {"type": "boolean", "default": False},
            "idea_ids": ROADMAP_IDEA_IDS,
            "status": {**ref("RoadmapStatus"), "default": "planned"},
            "note": {**ROADMAP_NOTE, "default": ""},
        },
        "required": ["title"],
        "additionalProperties": False,
    },
    "RoadmapItemChange": {
        "description": "The fields to change; the others stay as they are.",
        "type": "object",
        "properties": {
            "title": ROADMAP_TITLE,
            "description": ROADMAP_DESCRIPTION,
            "target": ROADMAP_TARGET_INPUT,
            "impact": ROADMAP_IMPACT,
            "confidence": ROADMAP_CONFIDENCE,
            "effort": ROADMAP_EFFORT,
            "weighted_reach": {"type": "boolean"},
            "idea_ids": {
                **ROADMAP_IDEA_IDS,
                "description": "Replaces the linked ideas: new ones take the item's status, "
                "ideas left out keep theirs.",
            },
            "status": {
                **ref("RoadmapStatus"),
                "description": "Moves the item; its linked ideas follow (planned, in_progress, "
                "shipped; cancelled sends their planned and in-progress ideas back to "
                "under_review) and their followers are notified with the note.",
            },
            "note": ROADMAP_NOTE,
            "position": {
                **COUNT,
                "description": "Its place in the status column, 0 at the top; without it a "
                "moved item goes to the bottom.",
            },
        },
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

LOCATION = {
    "Location": {
        "description": "The item in the API.",
        "required": True,
        "schema": {"type": "string", "format": "uri"},
    }
}

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
            "description": "Taking back a vote not given changes nothing. An idea merged into "
            "another takes no vote changes (409): its votes are the surviving idea's now.",
            "tags": ["votes"],
            "security": AUTH,
            "x-role": "member",
            "responses": {
                "200": response("The idea's votes after taking the vote back.", ref("VoteState")),
                **errors(*WRITE_ERRORS, "NotFound", "Conflict", "TooManyRequests"),
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
    "/api/v1/themes": {
        "get": {
            "operationId": "listThemes",
            "summary": "The themes of a board, or across boards",
            "description": "Staff and admins only. Themes are rebuilt daily (and on demand from "
            "the themes page); hidden themes are left out. Most voters first.",
            "tags": ["themes"],
            "security": [{"bearerToken": []}, {"session": []}],
            "x-role": "staff",
            "parameters": [
                {
                    "name": "board",
                    "in": "query",
                    "description": "A board's slug; without it, the themes across all boards.",
                    "schema": STRING,
                }
            ],
            "responses": {
                "200": response("The themes.", array_of("Theme")),
                **errors("Unauthorized", "Forbidden"),
                "404": response("There is no board with this slug.", ref("Error")),
            },
        },
    },
    "/api/v1/roadmap": {
        "get": {
            "operationId": "listRoadmap",
            "summary": "The roadmap items",
            "description": "By status (planned, in progress, shipped, cancelled), each column in "
            "its order.",
            "tags": ["roadmap"],
            "security": OPTIONAL_AUTH,
            "parameters": [{"name": "status", "in": "query", "schema": ref("RoadmapStatus")}],
            "responses": {
                "200": response("The items.", array_of("RoadmapItem")),
                **errors("InvalidQuery"),
            },
        },
        "post": {
            "operationId": "createRoadmapItem",
            "summary": "Put an item on the roadmap",
            "description": "Staff and admins only. The linked ideas take the item's status and "
            "their followers are notified.",
            "tags": ["roadmap"],
            "security": AUTH,
            "x-role": "staff",
            "requestBody": {
                "required": True,
                "content": {JSON: {"schema": ref("NewRoadmapItem")}},
            },
            "responses": {
                "201": response("The item, as stored.", ref("RoadmapItem"), headers=LOCATION),
                **errors(*WRITE_ERRORS),
            },
        },
    },
    "/api/v1/roadmap/{id}": {
        "parameters": [id_parameter("The roadmap item's id.")],
        "get": {
            "operationId": "getRoadmapItem",
            "summary": "One roadmap item",
            "tags": ["roadmap"],
            "security": OPTIONAL_AUTH,
            "responses": {
                "200": response("The item.", ref("RoadmapItem")),
                "404": response("No such roadmap item.", ref("Error")),
            },
        },
        "patch": {
            "operationId": "updateRoadmapItem",
            "summary": "Change a roadmap item, or move it",
            "description": "Staff and admins only. A new status moves the linked ideas as the "
            "roadmap board does.",
            "tags": ["roadmap"],
            "security": AUTH,
            "x-role": "staff",
            "requestBody": {
                "required": True,
                "content": {JSON: {"schema": ref("RoadmapItemChange")}},
            },
            "responses": {
                "200": response("The item after the change.", ref("RoadmapItem")),
                **errors(*WRITE_ERRORS),
                "404": response("No such roadmap item.", ref("Error")),
            },
        },
    },
    "/api/v1/updates": {
        "get": {
            "operationId": "listWeeklyUpdates",
            "summary": "The weekly roadmap updates",
            "description": "The weeks with a stored update (ISO weeks in the portal's TIME_ZONE), "
            "newest first.",
            "tags": ["roadmap"],
            "security": OPTIONAL_AUTH,
            "responses": {"200": response("The weeks.", array_of("WeeklyUpdateSummary"))},
        },
    },
    "/api/v1/updates/{week}": {
        "parameters": [
            {
                "name": "week",
                "in": "path",
                "required": True,
                "description": "An ISO week, such as 2026-W48.",
                "schema": {"type": "string", "pattern": "^[0-9]{4}-W[0-9]{2}$"},
            }
        ],
        "get": {
            "operationId": "getWeeklyUpdate",
            "summary": "A week's roadmap update",
            "description": "The same document as the week's JSON file: the roadmap as the week "
            "ended and what changed since the week before. The same week always gives the same "
            "document.",
            "tags": ["roadmap"],
            "security": OPTIONAL_AUTH,
            "responses": {
                "200": response("The week's update.", ref("WeeklyUpdate")),
                "404": response("No update is stored for this week.", ref("Error")),
            },
        },
    },
    "/api/v1/themes/{id}/promote": {
        "parameters": [id_parameter("The theme's id.")],
        "post": {
            "operationId": "promoteTheme",
            "summary": "Put a theme on the roadmap",
            "description": "Staff and admins only. A new item named after the theme, with every "
            "idea of the theme linked (they become planned). 409 when an item made from the "
            "theme is on the roadmap and not cancelled. No body is needed.",
            "tags": ["roadmap"],
            "security": AUTH,
            "x-role": "staff",
            "responses": {
                "201": response("The new item.", ref("RoadmapItem"), headers=LOCATION),
                **errors(*WRITE_ERRORS, "Conflict"),
                "404": response("No such theme.", ref("Error")),
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
            "summary": "Ideas, votes, comments and the roadmap of the idea portal, as JSON.",
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
            {"name": "roadmap"},
            {"name": "themes"},
            {"name": "meta"},
        ],
        "paths": copy.deepcopy(PATHS),
        "components": copy.deepcopy(
            {"schemas": SCHEMAS, "responses": RESPONSES, "securitySchemes": SECURITY_SCHEMES}
        ),
    }
