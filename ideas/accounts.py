"""Accounts: sign-up, sign-in, sessions, API tokens, password resets, roles and blocking."""

from __future__ import annotations

import hashlib
import math
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ideas import audit, mail
from ideas.errors import N_, Errors, Forbidden, NotFound
from ideas.i18n import LOCALES
from ideas.models import ApiToken, User, UserSession, utcnow

ROLES = ("member", "staff", "admin")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
RESET_MAX_AGE = 3600  # seconds a reset link stays valid
SIGN_UP_MAX_AGE = 86400  # seconds a sign-up link stays valid
# How often people hear by email of the ideas they vote for or follow (see ideas.updates).
EMAIL_UPDATES = ("immediately", "weekly", "never")
SEGMENT_LIMIT = 40
WEIGHT_LIMIT = 1000.0

_hasher = PasswordHasher()
# Checked when the email is unknown, so sign-in takes as long for known and unknown emails.
_DUMMY_HASH = _hasher.hash("not a real password")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalise_email(email: str) -> str:
    return email.strip().lower()


def _check_email(errors: Errors, email: str) -> None:
    if not EMAIL.match(email) or len(email) > 254 or "\x00" in email:
        errors.add("email", N_("Enter a valid email address."))


def validate_account(email: str, name: str, password: str | None) -> Errors:
    errors = Errors()
    _check_email(errors, email)
    errors.check_length("name", name, 1, 80)
    if password is not None:
        errors.check_length("password", password, 8, 200)
    return errors


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def create_user(
    session: Session, email: str, name: str, password: str | None, role: str = "member"
) -> User:
    email, name = normalise_email(email), name.strip()
    errors = validate_account(email, name, password)
    if role not in ROLES:
        errors.add("role", N_("Unknown role."))
    if not errors.fields and find_by_email(session, email) is not None:
        errors.add("email", N_("An account with this email exists already. Sign in instead."))
    errors.raise_if_any()
    user = User(
        email=email,
        name=name,
        role=role,
        password_hash=hash_password(password) if password else None,
    )
    session.add(user)
    session.flush()
    return user


def find_by_email(session: Session, email: str) -> User | None:
    if "\x00" in email:  # no address has one, and PostgreSQL refuses to compare text with NUL
        return None
    return session.scalar(select(User).where(User.email == normalise_email(email)))


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound()
    return user


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The user when the password is right and the account may sign in, else None."""
    user = find_by_email(session, email)
    if user is None or user.password_hash is None:
        _verify(_DUMMY_HASH, password)
        return None
    if not _verify(user.password_hash, password) or user.is_blocked:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def set_password(session: Session, user: User, password: str) -> None:
    errors = Errors()
    errors.check_length("password", password, 8, 200)
    errors.raise_if_any()
    user.password_hash = hash_password(password)
    end_all_sessions(session, user)


# Signing up by email ------------------------------------------------------------------------
#
# Signing up never says whether an address has an account: the page answers the same, and the
# address gets a mail either way, a link to finish signing up or, when it has an account already,
# a note with links to sign in and to reset the password. The account is made only when the link
# is followed, by whoever reads that mailbox, who then chooses the name and the password.


def _sign_up_serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt="sign-up")


def request_sign_up(
    session: Session, email: str, secret: str, base_url: str, locale: str, next_url: str = ""
) -> None:
    """Mails the address the next step of signing up (see above); `next_url` is where the new
    account goes once made. Refuses only an address that is not one."""
    email = normalise_email(email)
    errors = Errors()
    _check_email(errors, email)
    errors.raise_if_any()
    user = find_by_email(session, email)
    if user is None:
        token = _sign_up_serializer(secret).dumps({"e": email, "n": next_url})
        mail.queue(
            session,
            to=email,
            template="sign_up",
            locale=locale,
            params={"link": f"{base_url}/signup/{token}"},
        )
    elif not user.is_blocked:
        mail.queue(
            session,
            to=user.email,
            template="sign_up_exists",
            locale=user.locale or locale,
            params={
                "name": user.name,
                "signin": f"{base_url}/signin",
                "reset": f"{base_url}/forgot",
            },
        )


def sign_up_email(session: Session, token: str, secret: str) -> tuple[str, str] | None:
    """The email and the page to go to that a sign-up link carries, while the link is valid and
    the address has no account yet (a link makes one account: used, it stops working)."""
    try:
        data = _sign_up_serializer(secret).loads(token, max_age=SIGN_UP_MAX_AGE)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(email := data.get("e"), str):
        return None
    if find_by_email(session, email) is not None:
        return None
    next_url = data.get("n")
    return email, next_url if isinstance(next_url, str) else ""


def finish_sign_up(
    session: Session, token: str, secret: str, name: str, password: str, locale: str
) -> tuple[User, str] | None:
    """Makes the account of a sign-up link with the name and password chosen on its page; the
    new user and the page to go to, or None when the link no longer works."""
    found = sign_up_email(session, token, secret)
    if found is None:
        return None
    email, next_url = found
    try:
        with session.begin_nested():
            user = create_user(session, email, name, password)
    except IntegrityError:  # the link followed twice at once (PostgreSQL): one account
        return None
    set_locale(user, locale)
    return user, next_url


# Sessions -----------------------------------------------------------------------------------


def start_session(session: Session, user: User) -> str:
    token = secrets.token_urlsafe(32)
    session.add(UserSession(token_hash=_digest(token), user_id=user.id))
    return token


def user_for_session(session: Session, token: str) -> User | None:
    row = session.get(UserSession, _digest(token))
    if row is None or row.user.is_blocked:
        return None
    return row.user


def end_session(session: Session, token: str) -> None:
    session.execute(delete(UserSession).where(UserSession.token_hash == _digest(token)))


def end_all_sessions(session: Session, user: User) -> None:
    session.execute(delete(UserSession).where(UserSession.user_id == user.id))


# API tokens ---------------------------------------------------------------------------------


def create_api_token(session: Session, user: User) -> str:
    token = "ip_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=_digest(token)))
    return token


def user_for_api_token(session: Session, token: str) -> User | None:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(token)))
    if row is None or row.user.is_blocked:
        return None
    return row.user


# Password resets ----------------------------------------------------------------------------


def _reset_serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt="password-reset")


def _password_fingerprint(user: User) -> str:
    # Part of the link, so a link stops working once the password has changed.
    return _digest(user.password_hash or "")[:16]


def request_password_reset(
    session: Session, email: str, secret: str, base_url: str, locale: str
) -> None:
    """Mails a reset link when the account exists; says nothing either way."""
    user = find_by_email(session, email)
    if user is None or user.is_blocked:
        return
    token = _reset_serializer(secret).dumps({"u": user.id, "p": _password_fingerprint(user)})
    mail.queue(
        session,
        to=user.email,
        template="password_reset",
        locale=user.locale or locale,
        params={"name": user.name, "link": f"{base_url}/reset/{token}"},
    )


def user_for_reset_token(session: Session, token: str, secret: str) -> User | None:
    try:
        data = _reset_serializer(secret).loads(token, max_age=RESET_MAX_AGE)
    except BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    user = session.get(User, data.get("u"))
    if user is None or user.is_blocked or data.get("p") != _password_fingerprint(user):
        return None
    return user


# Profile, roles and blocking ----------------------------------------------------------------


def set_locale(user: User, locale: str) -> None:
    if locale in LOCALES:
        user.locale = locale


def set_preferences(
    session: Session,
    user: User,
    email_updates: str,
    locale: str,
    roadmap_updates: bool | None = None,
) -> None:
    """The person's own choices: how often they get email about ideas, their language, and
    (when given) whether they get the weekly roadmap update by email."""
    errors = Errors()
    if email_updates not in EMAIL_UPDATES:
        errors.add("email_updates", N_("Choose one of the options."))
    if locale not in LOCALES:
        errors.add("locale", N_("Choose one of the languages."))
    errors.raise_if_any()
    user.email_updates = email_updates
    user.locale = locale
    if roadmap_updates is not None:
        user.roadmap_updates = roadmap_updates


def set_customer(session: Session, actor: User, user: User, segment: str, weight: str) -> None:
    """An admin says which segment a member belongs to and how much their voice weighs
    (a big account counts more in the weighted figures shown beside the plain ones)."""
    if not actor.is_admin:
        raise Forbidden()
    segment = " ".join(segment.split())
    errors = Errors()
    errors.check_length("segment", segment, 0, SEGMENT_LIMIT)
    try:
        number = float(weight.strip().replace(",", "."))  # "2,5" as Italians write it
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or not 0 < number <= WEIGHT_LIMIT:
        errors.add("weight", N_("A number above 0, at most %(n)d."), n=int(WEIGHT_LIMIT))
    errors.raise_if_any()
    new_segment = segment or None
    if (user.segment, user.weight) != (new_segment, number):
        audit.record(
            session,
            actor,
            "user.customer",
            "user",
            user.id,
            segment=new_segment,
            weight=number,
            old_segment=user.segment,
            old_weight=user.weight,
        )
        user.segment, user.weight = new_segment, number


def set_role(session: Session, actor: User, user: User, role: str) -> None:
    if not actor.is_admin:
        raise Forbidden()
    if role not in ROLES:
        errors = Errors()
        errors.add("role", N_("Unknown role."))
        errors.raise_if_any()
    if user.id == actor.id and role != "admin":
        raise Forbidden(N_("You cannot remove your own admin role."))
    if user.role != role:
        audit.record(session, actor, "user.role", "user", user.id, old=user.role, new=role)
        user.role = role


def set_blocked(session: Session, actor: User, user: User, blocked: bool) -> None:
    if not actor.is_staff or user.id == actor.id or (user.is_admin and not actor.is_admin):
        raise Forbidden()
    if blocked and not user.is_blocked:
        user.blocked_at = utcnow()
        end_all_sessions(session, user)
        audit.record(session, actor, "user.block", "user", user.id)
    elif not blocked and user.is_blocked:
        user.blocked_at = None
        audit.record(session, actor, "user.unblock", "user", user.id)


def list_users(
    session: Session, q: str = "", page: int = 1, per_page: int = 50
) -> tuple[list[User], int]:
    query = select(User)
    if q.strip():
        pattern = f"%{q.strip()}%"
        query = query.where(User.email.ilike(pattern) | User.name.ilike(pattern))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    users = session.scalars(
        query.order_by(User.id).offset((page - 1) * per_page).limit(per_page)
    ).all()
    return list(users), total
