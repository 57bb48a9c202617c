"""Dashboard accounts: passwords (argon2id via argon2-cffi), roles, lockout, API tokens.

Roles: ``staff`` (front desk) and ``manager`` (everything, plus settings, users, dead-letter
replay). The first manager is ``admin`` (DESIGN.md section 4, ``BOOKING_ADMIN_PASSWORD``).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from data.db import UnitOfWork
from data.models import ApiToken, User
from domain.errors import AccountLocked, InvalidCredentials, NotFound, ValidationProblem

ROLES = ("staff", "manager")
LOCK_AFTER_FAILURES = 5
LOCK_SECONDS = 300
_hasher = PasswordHasher()


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is making a request: the user's id, name, role and dashboard locale (None = default)."""

    id: int
    username: str
    role: str
    locale: str | None = None
    session_version: int = 1

    @property
    def is_manager(self) -> bool:
        return self.role == "manager"


def _principal(user: User) -> Principal:
    return Principal(user.id, user.username, user.role, user.locale, user.session_version)


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher.hash(password)


def create_user(uow: UnitOfWork, username: str, password: str, role: str, now: datetime) -> Principal:
    """Create an account. Raises ``ValidationProblem`` for a bad role, a short password or a
    username that is taken."""
    username = username.strip()
    if role not in ROLES:
        raise ValidationProblem(f"role must be one of {', '.join(ROLES)}", field="role")
    if not username or len(username) > 60:
        raise ValidationProblem("username must be 1 to 60 characters", field="username")
    if len(password) < 8:
        raise ValidationProblem("password must have at least 8 characters", field="password")
    with uow.begin() as session:
        user = User(username=username, password_hash=hash_password(password), role=role, created_at=now)
        session.add(user)
        try:
            session.commit()
        except IntegrityError:
            raise ValidationProblem(f"username {username!r} is taken", field="username") from None
        return _principal(user)


def ensure_admin(uow: UnitOfWork, password: str, now: datetime) -> str | None:
    """Create the manager ``admin`` if there is no account at all.

    Uses ``password`` (``BOOKING_ADMIN_PASSWORD``) or, when empty, a random one, which is returned
    so the caller can print it once. Returns ``None`` when accounts already exist.
    """
    with uow.begin() as session:
        if session.exec(select(User.id).limit(1)).first() is not None:
            return None
    generated = password or secrets.token_urlsafe(12)
    try:
        create_user(uow, "admin", generated, "manager", now)
    except ValidationProblem:
        return None  # another process created it first
    return None if password else generated


def authenticate(uow: UnitOfWork, username: str, password: str, now: datetime) -> Principal:
    """Check a login. After ``LOCK_AFTER_FAILURES`` failures in a row the account is locked for
    ``LOCK_SECONDS``. Raises ``InvalidCredentials`` or ``AccountLocked``."""
    with uow.begin() as session:
        user = session.exec(select(User).where(User.username == username.strip())).first()
        if user is None or not user.active:
            _hasher.hash(password)  # spend the same time as a real check
            raise InvalidCredentials("wrong username or password")
        if user.locked_until is not None and user.locked_until > now:
            raise AccountLocked(f"too many failed logins; try again after {user.locked_until:%H:%M} UTC")
        try:
            _hasher.verify(user.password_hash, password)
        except (VerificationError, InvalidHashError):
            user.failed_logins += 1
            if user.failed_logins >= LOCK_AFTER_FAILURES:
                user.locked_until = now + timedelta(seconds=LOCK_SECONDS)
                user.failed_logins = 0
            session.add(user)
            session.commit()
            raise InvalidCredentials("wrong username or password") from None
        user.failed_logins = 0
        user.locked_until = None
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        session.add(user)
        session.commit()
        return _principal(user)


def principal_by_id(uow: UnitOfWork, user_id: int, session_version: int) -> Principal | None:
    """The active user behind a session, or ``None`` if gone, deactivated or logged out everywhere."""
    with uow.begin() as session:
        user = session.get(User, user_id)
        if user is None or not user.active or user.session_version != session_version:
            return None
        return _principal(user)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(uow: UnitOfWork, user_id: int, name: str, now: datetime) -> str:
    """A new API token for the user; the plain token is returned once and never stored."""
    token = "bdt_" + secrets.token_urlsafe(32)
    with uow.begin() as session:
        if session.get(User, user_id) is None:
            raise NotFound(f"user {user_id} does not exist", field="user_id")
        session.add(ApiToken(user_id=user_id, name=name, token_hash=token_hash(token), created_at=now))
        session.commit()
    return token


def principal_by_token(uow: UnitOfWork, token: str, now: datetime) -> Principal | None:
    """The active user owning the API token, or ``None``."""
    with uow.begin() as session:
        row = session.exec(select(ApiToken).where(ApiToken.token_hash == token_hash(token))).first()
        if row is None:
            return None
        user = session.get(User, row.user_id)
        if user is None or not user.active:
            return None
        row.last_used_at = now
        session.add(row)
        session.commit()
        return _principal(user)


def list_users(uow: UnitOfWork) -> list[dict]:
    """Every account as ``{id, username, role, locale, active, locked_until}``."""
    with uow.begin() as session:
        return [
            {
                "id": u.id,
                "username": u.username,
                "role": u.role,
                "locale": u.locale,
                "active": u.active,
                "locked_until": u.locked_until.isoformat() if u.locked_until else None,
            }
            for u in session.exec(select(User).order_by(User.username)).all()
        ]


def update_user(
    uow: UnitOfWork,
    user_id: int,
    *,
    role: str | None = None,
    active: bool | None = None,
    locale: str | None = None,
    password: str | None = None,
) -> Principal:
    """Change an account. Deactivating or a new password ends the user's sessions.
    Raises ``NotFound`` or ``ValidationProblem`` (also when the change would leave no active
    manager: someone must be able to reach the settings)."""
    if role is not None and role not in ROLES:
        raise ValidationProblem(f"role must be one of {', '.join(ROLES)}", field="role")
    if locale is not None and locale not in ("en", "ru"):
        raise ValidationProblem("locale must be en or ru", field="locale")
    if password is not None and len(password) < 8:
        raise ValidationProblem("password must have at least 8 characters", field="password")
    with uow.begin() as session:
        user = session.get(User, user_id)
        if user is None:
            raise NotFound(f"user {user_id} does not exist", field="user_id")
        loses_manager = user.role == "manager" and user.active and (role == "staff" or active is False)
        if loses_manager:
            others = session.exec(
                select(User.id).where(User.role == "manager", User.active, User.id != user.id).limit(1)
            ).first()
            if others is None:
                raise ValidationProblem("the last active manager cannot be demoted or deactivated", field="role")
        if role is not None:
            user.role = role
        if locale is not None:
            user.locale = locale
        if active is not None:
            user.active = active
            if not active:
                user.session_version += 1
        if password is not None:
            user.password_hash = hash_password(password)
            user.session_version += 1
        session.add(user)
        session.commit()
        return _principal(user)
