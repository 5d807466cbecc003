"""Accounts on a real database: sign-up rules, sign-in, sessions, API tokens, password resets,
roles and blocking."""

from __future__ import annotations

import re
import time

import pytest
from itsdangerous.timed import TimestampSigner
from sqlalchemy import func, select

from ideas import accounts
from ideas.errors import Forbidden, Message, ValidationError
from ideas.models import AuditEntry, Job, User, UserSession
from tests.conftest import PASSWORD

SECRET = "test-secret"
BASE_URL = "http://portal.test"


def create(db, email="ada@example.com", name="Ada", password=PASSWORD, role="member"):
    with db.transaction() as session:
        return accounts.create_user(session, email, name, password, role)


def field_errors(db, **kwargs) -> dict[str, Message]:
    with pytest.raises(ValidationError) as caught:
        create(db, **kwargs)
    assert all(isinstance(message, Message) for message in caught.value.fields.values())
    return caught.value.fields


# Sign-up ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@b"}, "email"),
        ({"email": "two words@example.com"}, "email"),
        ({"email": "x" * 250 + "@example.com"}, "email"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "n" * 81}, "name"),
        ({"password": "short"}, "password"),
        ({"password": "p" * 201}, "password"),
        ({"role": "owner"}, "role"),
    ],
)
def test_create_user_rejects_each_bad_field(db, kwargs, field) -> None:
    fields = field_errors(db, **kwargs)
    assert set(fields) == {field}


def test_create_user_reports_every_bad_field_at_once(db) -> None:
    fields = field_errors(db, email="nope", name="", password="x")
    assert set(fields) == {"email", "name", "password"}
    assert fields["password"].params == {"n": 8}


def test_create_user_without_password_makes_an_account_that_cannot_sign_in(db) -> None:
    user = create(db, password=None)
    assert user.password_hash is None
    with db.transaction() as session:
        assert accounts.authenticate(session, "ada@example.com", "") is None
        assert accounts.authenticate(session, "ada@example.com", PASSWORD) is None


def test_email_is_normalised_and_name_trimmed(db) -> None:
    user = create(db, email="  Ada.Lovelace@Example.COM ", name="  Ada  ")
    assert (user.email, user.name) == ("ada.lovelace@example.com", "Ada")
    with db.reading() as session:
        found = accounts.find_by_email(session, "ADA.lovelace@example.com  ")
        assert found is not None and found.id == user.id


def test_duplicate_email_is_refused_whatever_its_case(db) -> None:
    create(db)
    fields = field_errors(db, email="ADA@example.com")
    assert set(fields) == {"email"}
    with db.reading() as session:
        assert session.scalar(select(func.count()).select_from(User)) == 1


def test_password_is_stored_hashed(db) -> None:
    user = create(db)
    assert user.password_hash and PASSWORD not in user.password_hash
    assert user.password_hash.startswith("$argon2")


# Sign-in ------------------------------------------------------------------------------------


def test_authenticate_right_wrong_and_unknown(db) -> None:
    user = create(db)
    with db.transaction() as session:
        found = accounts.authenticate(session, " ADA@example.com", PASSWORD)
        assert found is not None and found.id == user.id
        assert accounts.authenticate(session, "ada@example.com", PASSWORD + "!") is None
        assert accounts.authenticate(session, "nobody@example.com", PASSWORD) is None


def test_blocked_user_cannot_sign_in(db, make_user) -> None:
    staff = make_user("staff")
    user = create(db)
    with db.transaction() as session:
        accounts.set_blocked(session, session.get(User, staff.id), session.get(User, user.id), True)
    with db.transaction() as session:
        assert accounts.authenticate(session, "ada@example.com", PASSWORD) is None


# Sessions -----------------------------------------------------------------------------------


def test_session_start_lookup_end(db) -> None:
    user = create(db)
    with db.transaction() as session:
        token = accounts.start_session(session, user)
        other = accounts.start_session(session, user)
    assert token != other
    with db.reading() as session:
        found = accounts.user_for_session(session, token)
        assert found is not None and found.id == user.id
        assert accounts.user_for_session(session, "not-a-token") is None
        # Only the hash is stored.
        stored = session.scalars(select(UserSession.token_hash)).all()
        assert token not in stored and len(stored) == 2
    with db.transaction() as session:
        accounts.end_session(session, token)
    with db.reading() as session:
        assert accounts.user_for_session(session, token) is None
        assert accounts.user_for_session(session, other) is not None


def test_changing_the_password_ends_every_session(db) -> None:
    user = create(db)
    with db.transaction() as session:
        tokens = [accounts.start_session(session, user) for _ in range(3)]
    with db.transaction() as session:
        accounts.set_password(session, session.get(User, user.id), "a brand new password")
    with db.transaction() as session:
        assert all(accounts.user_for_session(session, token) is None for token in tokens)
        assert accounts.authenticate(session, "ada@example.com", PASSWORD) is None
        assert accounts.authenticate(session, "ada@example.com", "a brand new password")


def test_set_password_validates_length(db) -> None:
    user = create(db)
    with db.transaction() as session, pytest.raises(ValidationError) as caught:
        accounts.set_password(session, session.get(User, user.id), "short")
    assert set(caught.value.fields) == {"password"}


# API tokens ---------------------------------------------------------------------------------


def test_api_tokens(db) -> None:
    user = create(db)
    with db.transaction() as session:
        token = accounts.create_api_token(session, user)
        second = accounts.create_api_token(session, user)
    assert token.startswith("ip_") and token != second
    with db.reading() as session:
        found = accounts.user_for_api_token(session, token)
        assert found is not None and found.id == user.id
        assert accounts.user_for_api_token(session, "ip_unknown") is None
        assert accounts.user_for_api_token(session, token[:-1]) is None


def test_api_token_of_blocked_user_is_refused(db, make_user) -> None:
    admin = make_user("admin")
    user = create(db)
    with db.transaction() as session:
        token = accounts.create_api_token(session, user)
    with db.transaction() as session:
        accounts.set_blocked(session, session.get(User, admin.id), session.get(User, user.id), True)
    with db.reading() as session:
        assert accounts.user_for_api_token(session, token) is None


# Password resets ----------------------------------------------------------------------------


def reset_token(db, email: str = "ada@example.com") -> str:
    """Asks for a reset and returns the token from the mail it queued."""
    with db.transaction() as session:
        accounts.request_password_reset(session, email, SECRET, BASE_URL, "en")
    with db.reading() as session:
        job = session.scalars(select(Job).order_by(Job.id.desc())).first()
    assert job is not None and job.kind == "send_mail"
    found = re.search(re.escape(BASE_URL) + r"/reset/(\S+)", job.payload["body"])
    assert found, job.payload["body"]
    return found.group(1)


def test_password_reset_link_is_valid_and_mailed_to_the_user(db) -> None:
    user = create(db)
    token = reset_token(db, "  ADA@example.com")
    with db.reading() as session:
        job = session.scalars(select(Job)).one()
        assert job.payload["to"] == "ada@example.com"
        assert "Ada" in job.payload["body"]
        found = accounts.user_for_reset_token(session, token, SECRET)
        assert found is not None and found.id == user.id
        assert accounts.user_for_reset_token(session, token, "another-secret") is None
        assert accounts.user_for_reset_token(session, "garbage", SECRET) is None


def test_password_reset_link_expires(db, monkeypatch) -> None:
    create(db)
    token = reset_token(db)
    later = int(time.time())
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: later + 60)
    with db.reading() as session:
        assert accounts.user_for_reset_token(session, token, SECRET) is not None
    monkeypatch.setattr(
        TimestampSigner, "get_timestamp", lambda self: later + accounts.RESET_MAX_AGE + 5
    )
    with db.reading() as session:
        assert accounts.user_for_reset_token(session, token, SECRET) is None


def test_password_reset_link_stops_working_once_the_password_changed(db) -> None:
    user = create(db)
    token = reset_token(db)
    with db.transaction() as session:
        found = accounts.user_for_reset_token(session, token, SECRET)
        assert found is not None
        accounts.set_password(session, found, "the new password")
    with db.reading() as session:
        assert accounts.user_for_reset_token(session, token, SECRET) is None
    # A new link works again.
    with db.reading() as session:
        found = accounts.user_for_reset_token(session, reset_token(db), SECRET)
        assert found is not None and found.id == user.id


def test_password_reset_for_unknown_or_blocked_email_sends_nothing(db, make_user) -> None:
    staff = make_user("staff")
    user = create(db)
    with db.transaction() as session:
        accounts.request_password_reset(session, "nobody@example.com", SECRET, BASE_URL, "en")
        accounts.set_blocked(session, session.get(User, staff.id), session.get(User, user.id), True)
    with db.transaction() as session:
        accounts.request_password_reset(session, "ada@example.com", SECRET, BASE_URL, "en")
    with db.reading() as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 0


def test_password_reset_token_of_a_blocked_user_is_refused(db, make_user) -> None:
    staff = make_user("staff")
    user = create(db)
    token = reset_token(db)
    with db.transaction() as session:
        accounts.set_blocked(session, session.get(User, staff.id), session.get(User, user.id), True)
    with db.reading() as session:
        assert accounts.user_for_reset_token(session, token, SECRET) is None


# Signing up by email --------------------------------------------------------------------------


def sign_up_token(db, email: str, next_url: str = "") -> str:
    with db.transaction() as session:
        accounts.request_sign_up(session, email, SECRET, BASE_URL, "en", next_url)
    with db.reading() as session:
        job = session.scalars(select(Job).order_by(Job.id.desc())).first()
    assert job is not None and job.payload["to"] == accounts.normalise_email(email)
    found = re.search(re.escape(BASE_URL) + r"/signup/(\S+)", job.payload["body"])
    assert found, job.payload["body"]
    return found.group(1)


def test_sign_up_link_makes_the_account_once(db) -> None:
    token = sign_up_token(db, "  Ada@Example.com", "/ideas/new")
    with db.reading() as session:
        assert accounts.sign_up_email(session, token, SECRET) == ("ada@example.com", "/ideas/new")
        assert accounts.sign_up_email(session, token, "another-secret") is None
        assert accounts.find_by_email(session, "ada@example.com") is None
    with pytest.raises(ValidationError) as caught, db.transaction() as session:
        accounts.finish_sign_up(session, token, SECRET, "", "short", "it")
    assert set(caught.value.fields) == {"name", "password"}
    with db.transaction() as session:
        made = accounts.finish_sign_up(session, token, SECRET, " Ada ", PASSWORD, "it")
        assert made is not None
        user, next_url = made
        assert (user.email, user.name, user.locale, next_url) == (
            "ada@example.com",
            "Ada",
            "it",
            "/ideas/new",
        )
    with db.transaction() as session:
        assert accounts.authenticate(session, "ada@example.com", PASSWORD) is not None
        assert accounts.finish_sign_up(session, token, SECRET, "Eve", PASSWORD, "en") is None


def test_sign_up_link_expires_and_is_no_reset_link(db, monkeypatch) -> None:
    token = sign_up_token(db, "ada@example.com")
    later = int(time.time())
    monkeypatch.setattr(
        TimestampSigner, "get_timestamp", lambda self: later + accounts.SIGN_UP_MAX_AGE - 60
    )
    with db.reading() as session:
        assert accounts.sign_up_email(session, token, SECRET) is not None
        assert accounts.user_for_reset_token(session, token, SECRET) is None
    monkeypatch.setattr(
        TimestampSigner, "get_timestamp", lambda self: later + accounts.SIGN_UP_MAX_AGE + 5
    )
    with db.reading() as session:
        assert accounts.sign_up_email(session, token, SECRET) is None
    create(db, email="bob@example.com")
    with db.reading() as session:
        assert accounts.sign_up_email(session, reset_token(db, "bob@example.com"), SECRET) is None


def test_sign_up_of_a_registered_email_mails_its_owner_and_changes_nothing(db, make_user) -> None:
    user = create(db)
    staff = make_user("staff")
    with db.transaction() as session:
        accounts.request_sign_up(session, "ADA@example.com", SECRET, BASE_URL, "en")
    with db.reading() as session:
        (job,) = session.scalars(select(Job)).all()
        assert job.payload["to"] == "ada@example.com"
        assert job.payload["subject"] == "You already have an account"
        assert f"{BASE_URL}/signin" in job.payload["body"]
        assert f"{BASE_URL}/forgot" in job.payload["body"]
        assert accounts.get_user(session, user.id).password_hash == user.password_hash
    with db.transaction() as session:  # a blocked account hears nothing
        accounts.set_blocked(session, session.get(User, staff.id), session.get(User, user.id), True)
        accounts.request_sign_up(session, "ada@example.com", SECRET, BASE_URL, "en")
    with db.reading() as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 1


@pytest.mark.parametrize("email", ["", "not-an-email", "a\x00@example.com", "x" * 250 + "@b.co"])
def test_sign_up_refuses_what_is_not_an_address(db, email) -> None:
    with pytest.raises(ValidationError) as caught, db.transaction() as session:
        accounts.request_sign_up(session, email, SECRET, BASE_URL, "en")
    assert set(caught.value.fields) == {"email"}


# Locale, roles and blocking -----------------------------------------------------------------


def test_set_locale_accepts_only_known_locales(db) -> None:
    user = create(db)
    with db.transaction() as session:
        row = session.get(User, user.id)
        accounts.set_locale(row, "it")
        accounts.set_locale(row, "xx")
    with db.reading() as session:
        assert session.get(User, user.id).locale == "it"


def test_only_admins_change_roles(db, make_user) -> None:
    admin, staff, member = make_user("admin"), make_user("staff"), make_user()
    with db.transaction() as session:
        target = session.get(User, member.id)
        for actor in (staff, member):
            with pytest.raises(Forbidden):
                accounts.set_role(session, session.get(User, actor.id), target, "admin")
        accounts.set_role(session, session.get(User, admin.id), target, "staff")
    with db.reading() as session:
        assert session.get(User, member.id).role == "staff"
        entry = session.scalars(select(AuditEntry)).one()
        assert (entry.action, entry.actor_id, entry.target_id) == (
            "user.role",
            admin.id,
            member.id,
        )
        assert entry.details == {"old": "member", "new": "staff"}


def test_setting_the_same_role_records_nothing_and_unknown_roles_are_refused(db, make_user) -> None:
    admin, member = make_user("admin"), make_user()
    with db.transaction() as session:
        actor, target = session.get(User, admin.id), session.get(User, member.id)
        accounts.set_role(session, actor, target, "member")
        with pytest.raises(ValidationError) as caught:
            accounts.set_role(session, actor, target, "owner")
        assert set(caught.value.fields) == {"role"}
    with db.reading() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == 0


def test_admin_cannot_demote_self(db, make_user) -> None:
    admin = make_user("admin")
    with db.transaction() as session:
        actor = session.get(User, admin.id)
        for role in ("staff", "member"):
            with pytest.raises(Forbidden):
                accounts.set_role(session, actor, actor, role)
    with db.reading() as session:
        assert session.get(User, admin.id).role == "admin"


def test_blocking_ends_sessions_and_is_audited(db, make_user) -> None:
    staff, member = make_user("staff"), make_user()
    with db.transaction() as session:
        token = accounts.start_session(session, member)
    with db.transaction() as session:
        accounts.set_blocked(
            session, session.get(User, staff.id), session.get(User, member.id), True
        )
        # Blocking twice changes nothing.
        accounts.set_blocked(
            session, session.get(User, staff.id), session.get(User, member.id), True
        )
    with db.reading() as session:
        assert session.get(User, member.id).is_blocked
        assert accounts.user_for_session(session, token) is None
        assert session.scalar(select(func.count()).select_from(UserSession)) == 0
        entry = session.scalars(select(AuditEntry)).one()
        assert (entry.action, entry.actor_id, entry.target_type, entry.target_id) == (
            "user.block",
            staff.id,
            "user",
            member.id,
        )
    with db.transaction() as session:
        accounts.set_blocked(
            session, session.get(User, staff.id), session.get(User, member.id), False
        )
    with db.reading() as session:
        assert not session.get(User, member.id).is_blocked
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
        assert actions == ["user.block", "user.unblock"]


def test_who_may_block_whom(db, make_user) -> None:
    admin, staff, other_staff, member = (
        make_user("admin"),
        make_user("staff"),
        make_user("staff"),
        make_user(),
    )
    with db.transaction() as session:
        get = lambda user: session.get(User, user.id)  # noqa: E731
        with pytest.raises(Forbidden):  # members block nobody
            accounts.set_blocked(session, get(member), get(other_staff), True)
        with pytest.raises(Forbidden):  # nobody blocks themselves
            accounts.set_blocked(session, get(staff), get(staff), True)
        with pytest.raises(Forbidden):  # staff cannot block an admin
            accounts.set_blocked(session, get(staff), get(admin), True)
        accounts.set_blocked(session, get(staff), get(other_staff), True)
        accounts.set_blocked(session, get(admin), get(staff), True)
    with db.reading() as session:
        blocked = session.scalars(select(User.id).where(User.blocked_at.is_not(None))).all()
        assert sorted(blocked) == sorted([staff.id, other_staff.id])


def test_list_users_searches_and_pages(db, make_user) -> None:
    make_user(name="Grace Hopper", email="grace@navy.example")
    make_user(name="Ada Lovelace", email="ada@engine.example")
    make_user(name="Alan Turing", email="alan@bletchley.example")
    with db.reading() as session:
        users, total = accounts.list_users(session)
        assert total == 3 and [user.name for user in users][0] == "Grace Hopper"
        users, total = accounts.list_users(session, q=" LOVELACE ")
        assert total == 1 and users[0].name == "Ada Lovelace"
        users, total = accounts.list_users(session, q="bletchley")
        assert total == 1 and users[0].name == "Alan Turing"
        users, total = accounts.list_users(session, page=2, per_page=2)
        assert total == 3 and [user.name for user in users] == ["Alan Turing"]
