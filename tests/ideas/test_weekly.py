"""The weekly roadmap update: ISO weeks in the portal's time zone (year ends included), the
snapshot frozen as the week ended and stored once, what changed since the week before, the
three formats against golden files, and the worker's scheduled run with its emails.

The golden files (tests/golden/weekly-*) are the exports of tests/weekly_community.py's week;
UPDATE_GOLDEN=1 writes them again (then read the diff)."""

from __future__ import annotations

import csv
import io
import json
import os
import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import func, select, update
from starlette.testclient import TestClient

from ideas import accounts, jobs, roadmap, updates, votes, webhooks, weekly, weekly_render, worker
from ideas.db import Database
from ideas.errors import Conflict
from ideas.models import Idea, Job, RoadmapChange, User, WebhookDelivery, WeeklySnapshot
from ideas.settings import Settings
from tests import weekly_community as community
from tests.weekly_community import AFTER_THE_WEEK, BASE_URL, WEEK, ZONE, at

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"
SCHEMA = json.loads((ROOT / "docs" / "weekly-export.schema.json").read_text(encoding="utf-8"))


def golden(name: str, content: bytes) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(content)
    assert content == path.read_bytes(), f"{name} differs from its golden file"


def snapshot_of(db: Database, week: str = WEEK, zone: str = ZONE) -> dict:
    return weekly.make(db, week, zone, AFTER_THE_WEEK, BASE_URL).snapshot.data


def move_at(db: Database, item_id: int, status: str, when: datetime) -> None:
    with db.transaction() as session:
        team = session.scalars(select(User).where(User.role == "staff")).first()
        assert team is not None
        roadmap.move(session, team, roadmap.get(session, item_id), status)
        change = session.scalars(
            select(RoadmapChange).order_by(RoadmapChange.id.desc()).limit(1)
        ).one()
        change.created_at = when


# Weeks ------------------------------------------------------------------------------------------


def test_week_bounds_are_mondays_at_midnight_in_the_zone() -> None:
    assert weekly.week_bounds("2026-W47", "Europe/Rome") == (
        at("2026-11-15 23:00"),
        at("2026-11-22 23:00"),
    )
    assert weekly.week_bounds("2026-W47", "UTC") == (at("2026-11-16 00:00"), at("2026-11-23 00:00"))
    # The week summer time ends in Rome lasts 169 hours.
    start, end = weekly.week_bounds("2026-W43", "Europe/Rome")
    assert (start, end) == (at("2026-10-18 22:00"), at("2026-10-25 23:00"))
    assert weekly.week_bounds("2026-W47", "America/New_York")[0] == at("2026-11-16 05:00")


def test_year_ends_follow_iso_weeks() -> None:
    # 2026 has 53 ISO weeks; 2027-W01 starts on Monday 4 January 2027.
    assert weekly.week_bounds("2026-W53", "UTC") == (at("2026-12-28 00:00"), at("2027-01-04 00:00"))
    assert weekly.monday_of("2027-W01") == date(2027, 1, 4)
    assert weekly.previous_week("2027-W01") == "2026-W53"
    assert weekly.previous_week("2026-W01") == "2025-W52"  # 2025 has 52
    assert weekly.week_containing(at("2027-01-03 23:30"), "UTC") == "2026-W53"
    assert weekly.week_containing(at("2027-01-03 23:30"), "Europe/Rome") == "2027-W01"
    assert weekly.last_complete_week(at("2027-01-04 07:00"), "Europe/Rome") == "2026-W53"
    assert weekly.last_complete_week(at("2027-01-03 23:30"), "Europe/Rome") == "2026-W53"
    assert weekly.last_complete_week(at("2027-01-03 22:30"), "Europe/Rome") == "2026-W52"
    for bad in ("2027-W53", "2026-W54", "2026-W00", "2026-48", "W48", "", "2026-W4"):
        with pytest.raises(ValueError):
            weekly.parse_week(bad)
    assert weekly.parse_week("2026-w48") == (2026, 48)


def test_a_change_counts_in_the_week_of_the_zone(db: Database) -> None:
    built = community.build(db)
    w47 = snapshot_of(db)
    by_id = {item["id"]: item for item in w47["items"]}
    dark, calendar = built.items["dark"].id, built.items["calendar"].id
    # Sunday 23:30 in Rome (22:30 UTC): this week.
    assert by_id[dark]["status"] == "in_progress"
    assert [(c["item_id"], c["from"], c["to"]) for c in w47["changes"]["status_changes"]] == [
        (built.items["offline"].id, "in_progress", "shipped"),
        (dark, "planned", "in_progress"),
    ]
    # Monday 00:30 in Rome (Sunday 23:30 UTC): the next week, so still planned here.
    assert by_id[calendar]["status"] == "planned"
    assert w47["changes"]["shipped"] == [built.items["offline"].id]
    assert w47["changes"]["added"] == sorted([built.items["csv"].id, calendar])
    assert w47["compared_with"] == "history"
    # The idea posted at Sunday 23:30 in Rome is new this week; the one at 00:30 Monday is not.
    assert [idea["title"] for idea in w47["new_ideas"]] == [
        "Calendar sync",
        "Widgets on the home screen",
        "Keyboard shortcuts, *fast* [beta]",
    ]
    assert w47["totals"] == {"items": 4, "new_ideas": 3, "votes": 9}

    w48 = weekly.make(db, "2026-W48", ZONE, at("2026-11-30 08:00"), BASE_URL).snapshot.data
    assert [(c["item_id"], c["to"]) for c in w48["changes"]["status_changes"]] == [
        (calendar, "cancelled")
    ]
    assert w48["compared_with"] == "snapshot" and w48["changes"]["added"] == []
    # In UTC the same cancellation is Sunday 23:30: week 47.
    with db.reading() as session:
        utc = weekly.build(session, WEEK, "UTC")
    assert (calendar, "cancelled") in [
        (c["item_id"], c["to"]) for c in utc["changes"]["status_changes"]
    ]


def test_a_change_at_the_year_end(db: Database, make_user) -> None:
    team = make_user("staff")
    with db.transaction() as session:
        item = roadmap.create(session, team, roadmap.Fields("Year-end item"), [])
        session.flush()
        item_id = item.id
    with db.transaction() as session:
        session.execute(update(RoadmapChange).values(created_at=at("2026-12-01 10:00")))
    move_at(db, item_id, "in_progress", at("2027-01-03 22:30"))  # Sunday 23:30 in Rome
    move_at(db, item_id, "shipped", at("2027-01-04 08:00"))
    now = at("2027-01-20 00:00")
    w53 = weekly.make(db, "2026-W53", ZONE, now).snapshot.data
    w01 = weekly.make(db, "2027-W01", ZONE, now).snapshot.data
    assert w53["starts_at"] == "2026-12-27T23:00:00+00:00"
    assert [(c["from"], c["to"]) for c in w53["changes"]["status_changes"]] == [
        ("planned", "in_progress")
    ]
    assert w01["previous_week"] == "2026-W53" and w01["compared_with"] == "snapshot"
    assert [(c["from"], c["to"]) for c in w01["changes"]["status_changes"]] == [
        ("in_progress", "shipped")
    ]
    assert w01["changes"]["shipped"] == [item_id] and w53["changes"]["shipped"] == []
    assert w01["items"][0]["voters"] == 0  # an item with no idea linked


# Storing ----------------------------------------------------------------------------------------


def test_a_week_not_over_is_refused_and_a_stored_one_never_changes(db: Database) -> None:
    built = community.build(db)
    with pytest.raises(Conflict):
        weekly.make(db, WEEK, ZONE, at("2026-11-22 22:59"), BASE_URL)
    first = weekly.make(db, WEEK, ZONE, AFTER_THE_WEEK, BASE_URL)
    assert first.created
    files = {
        f: weekly_render.render(first.snapshot.data, f, "en", BASE_URL) for f in weekly.FORMATS
    }
    # The portal moves on: a vote, a new item, a move, an edited title.
    with db.transaction() as session:
        votes.vote(
            session,
            session.get_one(User, built.people["Elena"].id),
            session.get_one(Idea, built.ideas[2].id),
        )
        team = session.get_one(User, built.team.id)
        roadmap.create(session, team, roadmap.Fields("Something new"), [])
        item = roadmap.get(session, built.items["dark"].id)
        roadmap.move(session, team, item, "shipped")
        item.title = "Dark mode everywhere"
    again = weekly.make(db, WEEK, ZONE, AFTER_THE_WEEK, BASE_URL)
    assert not again.created
    assert {
        f: weekly_render.render(again.snapshot.data, f, "en", BASE_URL) for f in weekly.FORMATS
    } == files
    with db.reading() as session:
        assert session.scalar(select(func.count()).select_from(WeeklySnapshot)) == 1


def test_against_the_previous_snapshot(db: Database) -> None:
    built = community.build(db)
    w46 = weekly.make(db, "2026-W46", ZONE, AFTER_THE_WEEK, BASE_URL).snapshot.data
    assert {item["id"] for item in w46["items"]} == {
        built.items["offline"].id,
        built.items["dark"].id,
    }
    w47 = snapshot_of(db)
    assert w47["compared_with"] == "snapshot"
    assert w47["changes"]["added"] == sorted([built.items["csv"].id, built.items["calendar"].id])
    themes = {theme["name"]: theme for theme in w47["themes"]}
    assert themes["offline · sync"]["voters_before"] == 3  # Ada, Bruno, Chiara by W46's end
    assert themes["offline · sync"]["new_voters"] == 2  # Dario and Elena voted in W47
    grown = [(theme["name"], theme["new_voters"]) for theme in w47["changes"]["themes_grown"]]
    assert grown == [("look · feel", 3), ("offline · sync", 2)]
    unchanged = [item for item in w47["items"] if not item["changed_this_week"]]
    assert unchanged == []


# The formats ------------------------------------------------------------------------------------


def test_golden_files(db: Database) -> None:
    community.build(db)
    data = snapshot_of(db)
    golden("weekly-2026-W47.md", weekly_render.render(data, "md", "en", BASE_URL))
    golden("weekly-2026-W47.it.md", weekly_render.render(data, "md", "it", BASE_URL))
    golden("weekly-2026-W47.csv", weekly_render.render(data, "csv", "en", BASE_URL))
    golden("weekly-2026-W47.json", weekly_render.render(data, "json", "en", BASE_URL))


def test_the_formats_open_cleanly(db: Database) -> None:
    built = community.build(db)
    data = snapshot_of(db)
    raw = weekly_render.render(data, "csv", "it", BASE_URL)
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert [row["id"] for row in rows] == [str(item["id"]) for item in data["items"]]
    dark = next(row for row in rows if row["id"] == str(built.items["dark"].id))
    assert dark["changed_this_week"] == "true" and dark["status_label"] == "In corso"
    assert dark["change"] == "Pianificata → In corso (dom 22 nov 23:30)"

    document = json.loads(weekly_render.render(data, "json", "en", BASE_URL))
    Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(
        document
    )
    assert document["schema_version"] == 1 and document["week"] == WEEK
    broken = {**document, "schema_version": 2}
    assert not Draft202012Validator(SCHEMA).is_valid(broken)

    text = weekly_render.render(data, "md", "en", BASE_URL).decode()
    assert "\r" not in text and text.endswith("\n")
    assert r"Keyboard shortcuts, \*fast\* \[beta\]" in text  # user text is escaped
    italian = weekly_render.render(data, "md", "it", BASE_URL).decode()
    assert "16–22 nov 2026" in italian and "Pianificata → In corso, dom 22 nov 23:30" in italian
    assert "1 voto" in italian  # plural forms in the reader's language


def test_a_formula_in_a_title_stays_text_in_the_csv(db: Database, make_user) -> None:
    team = make_user("staff")
    with db.transaction() as session:
        roadmap.create(session, team, roadmap.Fields('=HYPERLINK("x")'), [])
    with db.reading() as session:
        data = weekly.build(session, weekly.week_containing(datetime.now(UTC), "UTC"), "UTC")
    raw = weekly_render.csv_text(data, "en", BASE_URL)
    row = next(csv.DictReader(io.StringIO(raw.removeprefix("\ufeff"), newline="")))
    assert row["title"] == '\'=HYPERLINK("x")'


# The worker ------------------------------------------------------------------------------------


def opt_in(db: Database, user: User, locale: str | None = None, blocked: bool = False) -> None:
    with db.transaction() as session:
        person = session.get_one(User, user.id)
        person.roadmap_updates = True
        person.locale = locale
        if blocked:
            person.blocked_at = at("2026-11-01 00:00")


def run_jobs(db: Database, settings: Settings) -> int:
    """Runs what is due, but no webhook delivery: nothing leaves this machine."""
    table = {
        kind: handler
        for kind, handler in worker.handlers(db, settings).items()
        if kind != webhooks.JOB
    }
    total = 0
    while done := jobs.run_due(db, table):
        total += done
    return total


def test_the_scheduled_run_exports_once_and_emails_each_member_once(
    db: Database, smtp, smtp_settings: Settings, tmp_path: Path, app
) -> None:
    _, collector = smtp
    built = community.build(db)
    opt_in(db, built.people["Ada"])
    opt_in(db, built.people["Bruno"], "it")
    with db.transaction() as session:  # her choice for status emails, which stays as it is
        session.get_one(User, built.people["Ada"].id).email_updates = "weekly"
    opt_in(db, built.people["Chiara"], blocked=True)
    with db.transaction() as session:
        admin = accounts.create_user(session, "admin@example.com", "Admin", None, "admin")
        webhooks.create(session, admin, "https://hooks.example.com/in", ["weekly_export.ready"])
    settings = replace(
        smtp_settings,
        time_zone=ZONE,
        export_schedule="mon 08:00",
        export_dir=tmp_path / "exports",
        base_url=BASE_URL,
    )
    # On Sunday the next run is Monday 08:00 in Rome (07:00 UTC), for the week that just ended.
    weekly.schedule(db, settings, now=at("2026-11-22 12:00"))
    weekly.schedule(db, settings, now=at("2026-11-22 12:05"))  # a second worker: no second job
    with db.reading() as session:
        queued = session.scalars(select(Job).where(Job.kind == weekly.EXPORT_JOB)).one()
    assert (queued.key, queued.run_at, queued.payload) == (
        f"weekly_export:{WEEK}",
        at("2026-11-23 07:00"),
        {"week": WEEK},
    )

    run_jobs(db, settings)
    # The same run again, as a retry or a second worker would: nothing new.
    with db.transaction() as session:
        jobs.enqueue(session, weekly.EXPORT_JOB, {"week": WEEK})
    run_jobs(db, settings)

    with db.reading() as session:
        assert session.scalar(select(func.count()).select_from(WeeklySnapshot)) == 1
        stored = session.get_one(WeeklySnapshot, WEEK)
        deliveries = session.scalars(select(WebhookDelivery)).all()
    assert [(d.event, d.payload["data"]["week"]) for d in deliveries] == [
        ("weekly_export.ready", WEEK)
    ]
    assert deliveries[0].payload["data"]["urls"]["json"] == f"{BASE_URL}/updates/{WEEK}.json"
    files = sorted(path.name for path in (tmp_path / "exports").iterdir())
    assert files == [f"roadmap-{WEEK}.csv", f"roadmap-{WEEK}.json", f"roadmap-{WEEK}.md"]
    assert (tmp_path / "exports" / f"roadmap-{WEEK}.md").read_bytes() == weekly_render.render(
        stored.data, "md", "en", BASE_URL
    )

    mails = {str(message["To"]): message for message in collector.messages()}
    assert len(mails) == len(collector.messages()) == 2  # not the blocked one, not the others
    ada, bruno = mails["ada@example.com"], mails["bruno@example.com"]
    assert ada["Subject"] == "Roadmap update: week 47 of 2026"
    body = ada.get_content().replace("\r\n", "\n")  # SMTP line ends
    assert body.startswith(weekly_render.markdown(stored.data, "en", BASE_URL))
    assert "Pianificata → In corso" in bruno.get_content()  # in Bruno's language
    link = re.search(r"Unsubscribe: (\S+)", body)
    assert link and ada["List-Unsubscribe"].strip() == f"<{link.group(1)}>"
    assert ada["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    # The link stops the roadmap update (and nothing else), without signing in.
    path = link.group(1).removeprefix(BASE_URL)
    with TestClient(app) as client:
        page = client.get(path)
        assert page.status_code == 200 and "weekly roadmap update" in page.text
        assert client.post(path).status_code == 200
    with db.reading() as session:
        person = session.get_one(User, built.people["Ada"].id)
        assert (person.roadmap_updates, person.email_updates) == (False, "weekly")


def test_the_run_waits_for_its_time(db: Database, settings: Settings) -> None:
    settings = replace(settings, time_zone=ZONE, export_schedule="sun 23:30")
    now = datetime.now(UTC)
    weekly.schedule(db, settings, now=now)
    with db.reading() as session:
        queued = session.scalars(select(Job).where(Job.kind == weekly.EXPORT_JOB)).one()
    assert now < queued.run_at <= now + timedelta(days=7)
    local = queued.run_at.astimezone(ZoneInfo(ZONE))
    assert (local.weekday(), local.hour, local.minute) == (6, 23, 30)
    # Sunday 23:30 is before the week ends: the run exports the week before it.
    assert queued.payload["week"] == weekly.previous_week(
        weekly.week_containing(queued.run_at, ZONE)
    )
    assert run_jobs(db, settings) == 0  # not due yet
    with db.reading() as session:
        assert session.scalar(select(func.count()).select_from(WeeklySnapshot)) == 0


def test_a_mail_for_someone_who_opted_out_since_is_not_sent(
    db: Database, smtp, smtp_settings: Settings
) -> None:
    _, collector = smtp
    built = community.build(db)
    opt_in(db, built.people["Dario"])
    weekly.publish(db, smtp_settings, WEEK, AFTER_THE_WEEK)
    with db.transaction() as session:
        session.get_one(User, built.people["Dario"].id).roadmap_updates = False
    run_jobs(db, smtp_settings)
    assert collector.messages() == []
    with db.reading() as session:
        job = session.scalars(select(Job).where(Job.kind == weekly.MAIL_JOB)).one()
    assert job.key == weekly.mail_key(WEEK, built.people["Dario"].id) and job.done_at


def test_the_status_mail_unsubscribe_still_stops_status_mail(db: Database, make_user) -> None:
    person = make_user()
    with db.transaction() as session:
        user = session.get_one(User, person.id)
        user.roadmap_updates = True
        token = updates.unsubscribe_token("s", user.id)
        found = updates.read_unsubscribe_token(session, token, "s")
        assert found == (user, "updates")
        updates.unsubscribe(*found)
        assert (user.email_updates, user.roadmap_updates) == ("never", True)
        roadmap_token = updates.unsubscribe_token("s", user.id, "roadmap")
        assert roadmap_token != token
        assert updates.read_unsubscribe_token(session, roadmap_token, "s") == (user, "roadmap")
        assert updates.read_unsubscribe_token(session, roadmap_token[:-2] + "xx", "s") is None
