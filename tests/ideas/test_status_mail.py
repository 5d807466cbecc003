"""Closing the loop by email: a status change tells every voter and follower in the app and, as
each prefers, by email at once (through the job table, to a real SMTP server), in the weekly
digest, or never; each email is sent once, even when a worker stops after the server took it
and the job is retried; each carries a link to stop them."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest
from sqlalchemy import select, update

from ideas import accounts, digest, follows, jobs, mail, roadmap, updates, votes, worker
from ideas import ideas as idea_rules
from ideas.i18n import translations
from ideas.models import Digest, Idea, Job, MailDelivery, Notification, StatusChange, User, utcnow
from ideas.settings import Settings
from tests.conftest import free_port

TITLE = "Export the roadmap as CSV"


@dataclass
class People:
    team: User
    author: User  # voted and follows (as every author), "immediately"
    voter: User  # "immediately"
    follower: User  # follows without a vote, "immediately"
    unfollowed: User  # voted, then unfollowed: still hears of the status
    weekly: User
    never: User
    idea: Idea


def set_pref(db, user: User, email_updates: str, locale: str | None = None) -> None:
    with db.transaction() as session:
        person = session.get_one(User, user.id)
        person.email_updates = email_updates
        if locale:
            person.locale = locale


@pytest.fixture
def people(db, make_user, make_idea) -> People:
    team = make_user("staff", name="Tess Team")
    author, voter, follower, unfollowed, weekly, never = (
        make_user(name=name) for name in ("Ada", "Vic", "Flo", "Una", "Wes", "Nev")
    )
    idea = make_idea(title=TITLE, author=author)
    with db.transaction() as session:
        found = session.get_one(Idea, idea.id)
        for person in (voter, unfollowed, weekly, never, team):  # the team votes too
            votes.vote(session, session.get_one(User, person.id), found)
        follows.follow(session, follower, idea.id)
        follows.unfollow(session, unfollowed, idea.id)
    set_pref(db, weekly, "weekly")
    set_pref(db, never, "never")
    return People(team, author, voter, follower, unfollowed, weekly, never, idea)


def move(db, people: People, status: str = "planned", note: str = "") -> None:
    with db.transaction() as session:
        idea_rules.set_status(
            session,
            session.get_one(User, people.team.id),
            session.get_one(Idea, people.idea.id),
            status,
            note,
        )


def run_worker(db, settings) -> int:
    total = 0
    while done := jobs.run_due(db, worker.handlers(db, settings)):
        total += done
    return total


def by_recipient(messages: list[EmailMessage]) -> dict[str, EmailMessage]:
    found = {str(message["To"]): message for message in messages}
    assert len(found) == len(messages), "someone got two emails"
    return found


def test_a_status_change_emails_those_who_want_it_once_each(db, smtp, smtp_settings, people):
    _, collector = smtp
    move(db, people, "planned", "Next quarter, with Excel too.")
    assert run_worker(db, smtp_settings) == 4
    assert run_worker(db, smtp_settings) == 0  # nothing left, nothing sent twice
    mails = by_recipient(collector.messages())
    expected = {people.author, people.voter, people.follower, people.unfollowed}
    assert set(mails) == {person.email for person in expected}  # not the team, weekly, never

    message = mails[people.voter.email]
    assert message["Subject"] == f"“{TITLE}” is now Planned"
    body = message.get_content()
    assert body.startswith("Hello Vic,")
    assert f"Tess Team moved “{TITLE}” from Open to Planned." in body
    assert "> Next quarter, with Excel too." in body
    assert f"{smtp_settings.base_url}/ideas/{people.idea.id}" in body
    assert f"{smtp_settings.base_url}/account" in body
    token = updates.unsubscribe_token(smtp_settings.secret_key, people.voter.id)
    unsubscribe = f"{smtp_settings.base_url}/unsubscribe/{token}"
    assert unsubscribe in body
    assert message["List-Unsubscribe"].strip() == f"<{unsubscribe}>"  # folded: a long line
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # Everyone hears of it in the app, whatever they chose for email; the team member who
    # moved it does not.
    with db.reading() as session:
        told = set(
            session.scalars(
                select(Notification.user_id).where(Notification.kind == "status_changed")
            )
        )
        keys = set(session.scalars(select(Job.key).where(Job.kind == "status_mail")))
        change = session.scalars(select(StatusChange)).one()
    assert told == {person.id for person in expected | {people.weekly, people.never}}
    assert keys == {updates.status_mail_key(change.id, person.id) for person in expected}


def test_an_italian_member_gets_it_in_italian(db, smtp, smtp_settings, people):
    _, collector = smtp
    set_pref(db, people.voter, "immediately", locale="it")
    move(db, people, "shipped")
    run_worker(db, smtp_settings)
    message = by_recipient(collector.messages())[people.voter.email]
    italian = translations("it").gettext
    assert italian("“%(title)s” is now %(new)s") != "“%(title)s” is now %(new)s"
    assert message["Subject"] == italian("“%(title)s” is now %(new)s") % {
        "title": TITLE,
        "new": italian("Shipped"),
    }
    body = message.get_content()
    greeting = italian(mail.TEMPLATES["status_changed"][1]).split("%(name)s")[0]
    assert body.startswith(greeting + "Vic")
    assert italian("Open") in body and italian("Shipped") in body
    assert "Hello" not in body and "Unsubscribe" not in body
    english = by_recipient(collector.messages())[people.author.email]
    assert english["Subject"] == f"“{TITLE}” is now Shipped"


def test_a_note_without_a_new_status_is_an_update(db, smtp, smtp_settings, people):
    _, collector = smtp
    move(db, people, "open", "We are reading every comment.")
    run_worker(db, smtp_settings)
    message = by_recipient(collector.messages())[people.voter.email]
    assert message["Subject"] == f"News on “{TITLE}”"
    assert f"Tess Team posted an update on “{TITLE}” (Open)." in message.get_content()
    assert "> We are reading every comment." in message.get_content()


def test_a_retry_after_the_server_took_the_mail_sends_nothing(db, smtp, smtp_settings, people):
    _, collector = smtp
    set_pref(db, people.author, "never")
    set_pref(db, people.follower, "never")
    set_pref(db, people.unfollowed, "never")
    move(db, people, "planned")  # one mail: to the voter
    handlers = worker.handlers(db, smtp_settings)
    # A worker takes the job and sends the mail, then stops before it records the job done.
    (claimed,) = jobs.claim(db)
    handlers[claimed.kind](claimed)
    assert len(collector.envelopes) == 1
    with db.transaction() as session:  # its lease runs out: the job comes back
        session.execute(update(Job).values(locked_until=utcnow() - timedelta(seconds=1)))
    assert jobs.run_due(db, handlers) == 1
    assert len(collector.envelopes) == 1  # not sent again
    with db.reading() as session:
        job = session.get_one(Job, claimed.id)
        assert job.done_at is not None and job.attempts == 2


def test_a_retried_mail_keeps_its_message_id(db, smtp, settings, smtp_settings, people):
    _, collector = smtp
    for person in (people.author, people.follower, people.unfollowed):
        set_pref(db, person, "never")
    move(db, people, "planned")
    away = replace(settings, smtp_host="127.0.0.1", smtp_port=free_port())  # nobody listens
    assert run_worker(db, away) == 1
    with db.reading() as session:
        recorded = session.scalars(select(MailDelivery)).one()
    assert recorded.sent_at is None
    with db.transaction() as session:
        session.execute(update(Job).values(run_at=utcnow() - timedelta(seconds=1)))
    assert run_worker(db, smtp_settings) == 1
    (message,) = collector.messages()
    assert message["Message-ID"] == recorded.message_id  # recognisably the same message


def test_no_mail_when_they_changed_their_mind_or_the_idea_is_hidden(
    db, smtp, smtp_settings, people
):
    _, collector = smtp
    move(db, people, "planned")
    set_pref(db, people.voter, "never")  # after the change, before the worker ran
    set_pref(db, people.author, "weekly")
    with db.transaction() as session:
        team = session.get_one(User, people.team.id)
        accounts.set_blocked(session, team, session.get_one(User, people.follower.id), True)
    run_worker(db, smtp_settings)
    assert set(by_recipient(collector.messages())) == {people.unfollowed.email}
    with db.transaction() as session:
        team = session.get_one(User, people.team.id)
        idea_rules.set_hidden(session, team, session.get_one(Idea, people.idea.id), True)
    move(db, people, "in_progress")
    with db.reading() as session:
        assert not session.scalars(select(Job).where(Job.done_at.is_(None))).all()
    run_worker(db, smtp_settings)
    assert len(collector.envelopes) == 1


def test_a_roadmap_move_tells_each_person_once_for_all_their_ideas(
    db, smtp, smtp_settings, people, make_idea
):
    """The voter backs two of the item's ideas: one notification and one email naming both."""
    _, collector = smtp
    other = make_idea(title="Export the roadmap as Excel", author=people.author)
    with db.transaction() as session:
        votes.vote(session, session.get_one(User, people.voter.id), session.get_one(Idea, other.id))
        team = session.get_one(User, people.team.id)
        item = roadmap.create(
            session,
            team,
            roadmap.Fields("Spreadsheet exports"),
            [session.get_one(Idea, people.idea.id), session.get_one(Idea, other.id)],
        )
        item_id = item.id
    assert run_worker(db, smtp_settings) == 4  # author, voter, follower, unfollowed: once each
    mails = by_recipient(collector.messages())
    body = mails[people.voter.email].get_content()
    assert mails[people.voter.email]["Subject"] == "“Spreadsheet exports” is now Planned"
    assert "moved the roadmap item “Spreadsheet exports” to Planned. It answers 2 ideas" in body
    assert f"“{TITLE}”: Open → Planned" in body
    assert "“Export the roadmap as Excel”: Open → Planned" in body
    assert f"{smtp_settings.base_url}/roadmap#item-{item_id}" in body
    follower_body = mails[people.follower.email].get_content()  # one idea: the usual mail
    assert f"moved “{TITLE}” from Open to Planned" in follower_body
    assert "It is part of the roadmap item “Spreadsheet exports”" in follower_body
    with db.reading() as session:
        told = session.scalars(
            select(Notification).where(Notification.user_id == people.voter.id)
        ).all()
    assert len(told) == 1
    assert told[0].data["others"] == 1 and told[0].data["item_id"] == item_id

    set_pref(db, people.voter, "immediately", locale="it")
    with db.transaction() as session:
        item = roadmap.get(session, item_id)
        roadmap.move(session, session.get_one(User, people.team.id), item, "shipped")
    run_worker(db, smtp_settings)
    italian = translations("it").gettext
    latest = [m for m in collector.messages() if m["To"] == people.voter.email][-1]
    assert latest["Subject"] == italian("“%(item)s” is now %(new)s") % {
        "item": "Spreadsheet exports",
        "new": italian("Shipped"),
    }


# The weekly digest --------------------------------------------------------------------------


def test_the_digest_runs_at_the_scheduled_time() -> None:
    wednesday = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    monday_nine = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    assert digest.next_run(wednesday, "mon 09:00") == monday_nine
    assert digest.next_run(monday_nine, "mon 09:00") == monday_nine + timedelta(days=7)
    assert digest.next_run(monday_nine - timedelta(minutes=1), "mon 09:00") == monday_nine
    assert digest.next_run(wednesday, "wed 10:30") == wednesday + timedelta(minutes=30)
    assert digest.week_of(monday_nine + timedelta(days=6)) == monday_nine.date()
    assert Settings.from_env({"DIGEST_SCHEDULE": "fri 17:30"}).digest_schedule == "fri 17:30"
    for bad in ("someday 09:00", "mon 9", "mon 24:00", "monday 09:00", "mon ²:00"):
        with pytest.raises(ValueError, match="mon 09:00"):
            Settings.from_env({"DIGEST_SCHEDULE": bad})


def test_the_worker_keeps_one_digest_queued(db, settings) -> None:
    now = utcnow()
    digest.schedule(db, settings, now)
    digest.schedule(db, settings, now)
    assert worker.run_once(db, settings) == 0  # not due yet
    with db.reading() as session:
        (job,) = session.scalars(select(Job).where(Job.kind == "weekly_digest")).all()
    assert job.kind == "weekly_digest" and job.run_at == digest.next_run(now, "mon 09:00")
    assert job.key == f"weekly_digest:{job.run_at:%Y-%m-%dT%H:%M}"


def due_digest(db, settings) -> datetime:
    """Queues the weekly digest as if the worker had done so a week ago: it is due now."""
    digest.schedule(db, settings, now=utcnow() - timedelta(days=7))
    with db.reading() as session:
        return session.scalars(select(Job.run_at).where(Job.kind == "weekly_digest")).one()


def backdate_changes(db, moment: datetime) -> None:
    with db.transaction() as session:
        session.execute(update(StatusChange).values(created_at=moment))


def test_the_weekly_digest_says_what_changed_once_a_week(
    db, smtp, smtp_settings, people, make_user, make_idea
) -> None:
    _, collector = smtp
    quiet = make_user(name="Quinn")  # weekly, on an idea nobody moves
    still = make_idea(title="Nobody moves this")
    with db.transaction() as session:
        votes.vote(session, session.get_one(User, quiet.id), session.get_one(Idea, still.id))
    set_pref(db, quiet, "weekly")
    set_pref(db, people.voter, "weekly", locale="it")
    move(db, people, "planned", "Next quarter.")
    move(db, people, "in_progress")
    run_worker(db, smtp_settings)  # the emails of those who want them at once
    collector.envelopes.clear()
    until = due_digest(db, smtp_settings)
    backdate_changes(db, until - timedelta(hours=1))
    worker.run_once(db, smtp_settings)
    mails = by_recipient(collector.messages())
    assert set(mails) == {people.weekly.email, people.voter.email}  # not Quinn, not "never"
    wes = mails[people.weekly.email]
    assert wes["Subject"] == "Your weekly news on the ideas you follow"
    body = wes.get_content()
    assert body.startswith("Hello Wes,")
    assert f"“{TITLE}”: Open → Planned" in body
    assert f"“{TITLE}”: Planned → In progress" in body
    assert body.index("Open → Planned") < body.index("Planned → In progress")
    assert "> Next quarter." in body
    assert f"{smtp_settings.base_url}/ideas/{people.idea.id}" in body
    assert wes["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    italian = translations("it").gettext
    assert mails[people.voter.email]["Subject"] == italian(
        "Your weekly news on the ideas you follow"
    )

    # The same week again (a second worker, a retry): nothing new.
    sent = len(collector.envelopes)
    assert digest.fan_out(db, until) == 0
    worker.run_once(db, smtp_settings)
    assert len(collector.envelopes) == sent

    # A week later: only what changed since.
    move(db, people, "shipped", "Out now.")
    with db.transaction() as session:
        session.execute(
            update(StatusChange)
            .where(StatusChange.to_status == "shipped")
            .values(created_at=until + timedelta(days=1))
        )
    assert digest.fan_out(db, until + timedelta(days=7)) == 2
    worker.run_once(db, smtp_settings)
    later = collector.messages()[sent:]
    wes_again = by_recipient([m for m in later if m["To"] == people.weekly.email])
    body = wes_again[people.weekly.email].get_content()
    assert "In progress → Shipped" in body and "Open → Planned" not in body
    with db.reading() as session:
        weeks = session.scalars(select(Digest.week).where(Digest.user_id == people.weekly.id))
        assert sorted(weeks) == [digest.week_of(until), digest.week_of(until + timedelta(days=7))]


def test_no_news_no_digest(db, smtp, smtp_settings, people, make_idea) -> None:
    _, collector = smtp
    until = due_digest(db, smtp_settings)
    worker.run_once(db, smtp_settings)  # nothing moved
    assert collector.envelopes == []
    move(db, people, "planned")  # moved by the team, but after the digest's time
    assert digest.fan_out(db, until) == 0
    assert people.weekly.email not in by_recipient(collector.messages())


def test_unsubscribe_tokens_name_one_person(db, settings, people) -> None:
    token = updates.unsubscribe_token(settings.secret_key, people.voter.id)
    with db.reading() as session:
        found = updates.user_for_unsubscribe_token(session, token, settings.secret_key)
        assert found is not None and found.id == people.voter.id
        for bad in (token[:-1], token + "x", "", re.sub(r"^\w", "Z", token)):
            assert updates.user_for_unsubscribe_token(session, bad, settings.secret_key) is None
        assert updates.user_for_unsubscribe_token(session, token, "another secret") is None
