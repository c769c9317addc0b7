"""Accounts, roles, API tokens and annotations of the dashboard: plain objects out.

Passwords are hashed with argon2id (argon2-cffi, RFC 9106 parameters of the
library's default profile); API tokens are 32 random bytes shown once and
stored as SHA-256 (a token is already high-entropy, so a fast hash suffices,
as for GitHub's tokens).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from camsweep.web.models import ROLES, Annotation, ApiToken, WebUser
from db.repository import Inventory, utcnow
from fingerprints.errors import ConfigError, NotFoundError

#: What each role may do.  Admin can do everything; officer and auditor are disjoint
#: beyond reading (an auditor checks, an officer acts).
PERMISSIONS: dict[str, frozenset[str]] = {
    "auditor": frozenset({"read", "verify"}),
    "officer": frozenset({"read", "annotate", "export"}),
    "admin": frozenset({"read", "annotate", "export", "verify", "scan", "configure"}),
}

MAX_NAME_LEN = 64
MAX_PASSWORD_LEN = 1024
MIN_PASSWORD_LEN = 8
MAX_ANNOTATION_LEN = 4000
TOKEN_PREFIX = "cst_"

_hasher = PasswordHasher()
# Verified against when the user does not exist, so a login takes as long either way.
_DUMMY_HASH = _hasher.hash("camsweep-no-such-user")


@dataclass(frozen=True, slots=True)
class User:
    id: int
    name: str
    role: str
    created_at: datetime

    def can(self, permission: str) -> bool:
        return permission in PERMISSIONS.get(self.role, frozenset())


@dataclass(frozen=True, slots=True)
class AnnotationRecord:
    id: int
    device_id: int
    author: str
    text: str
    created_at: datetime


def _user(u: WebUser) -> User:
    return User(u.id, u.name, u.role, u.created_at)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Accounts:
    """Users, tokens and annotations stored beside the inventory (in its schema, through its sessions)."""

    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory

    # -- users -----------------------------------------------------------

    def add_user(self, name: str, role: str, password: str) -> User:
        name = name.strip()
        if not name or len(name) > MAX_NAME_LEN or not name.isprintable() or " " in name:
            raise ConfigError(f"user name {name!r} must be 1-{MAX_NAME_LEN} printable characters, no spaces")
        if role not in ROLES:
            raise ConfigError(f"role {role!r} is not one of: {', '.join(ROLES)}")
        if not MIN_PASSWORD_LEN <= len(password) <= MAX_PASSWORD_LEN:
            raise ConfigError(f"the password must be {MIN_PASSWORD_LEN}-{MAX_PASSWORD_LEN} characters long")
        with self.inventory.session() as s:
            row = WebUser(name=name, role=role, password_hash=_hasher.hash(password), created_at=utcnow())
            s.add(row)
            try:
                s.flush()
            except IntegrityError as exc:  # the session rolls back on leaving
                raise ConfigError(f"user {name!r} already exists") from exc
            return _user(row)

    def users(self) -> list[User]:
        with self.inventory.session() as s:
            return [_user(u) for u in s.scalars(select(WebUser).order_by(WebUser.name))]

    def remove_user(self, name: str) -> None:
        with self.inventory.session() as s:
            row = s.scalar(select(WebUser).where(WebUser.name == name))
            if row is None:
                raise NotFoundError(f"user {name!r} does not exist")
            row.disabled = True
            for tok in s.scalars(select(ApiToken).where(ApiToken.user_id == row.id)):
                tok.revoked = True

    def authenticate(self, name: str, password: str) -> User | None:
        """The user if ``password`` is theirs, else None (same work either way)."""
        # NUL cannot be stored or compared in PostgreSQL text; no user name holds one.
        if len(name) > MAX_NAME_LEN or len(password) > MAX_PASSWORD_LEN or "\x00" in name:
            return None
        with self.inventory.session() as s:
            row = s.scalar(select(WebUser).where(WebUser.name == name, WebUser.disabled.is_(False)))
            try:
                _hasher.verify(row.password_hash if row else _DUMMY_HASH, password)
            except (VerificationError, InvalidHashError):
                return None
            if row is None:
                return None
            if _hasher.check_needs_rehash(row.password_hash):
                row.password_hash = _hasher.hash(password)
            return _user(row)

    def get_user(self, name: str) -> User | None:
        with self.inventory.session() as s:
            row = s.scalar(select(WebUser).where(WebUser.name == name, WebUser.disabled.is_(False)))
            return _user(row) if row else None

    # -- API tokens ------------------------------------------------------

    def issue_token(self, name: str, label: str = "") -> str:
        """A new token for user ``name``; returned once, stored only as a hash."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.inventory.session() as s:
            row = s.scalar(select(WebUser).where(WebUser.name == name, WebUser.disabled.is_(False)))
            if row is None:
                raise NotFoundError(f"user {name!r} does not exist")
            s.add(
                ApiToken(
                    user_id=row.id, token_sha256=token_digest(token), label=label[:128], created_at=utcnow()
                )
            )
        return token

    def user_for_token(self, token: str) -> User | None:
        if not token.startswith(TOKEN_PREFIX) or len(token) > 256:
            return None
        with self.inventory.session() as s:
            row = s.execute(
                select(WebUser)
                .join(ApiToken, ApiToken.user_id == WebUser.id)
                .where(
                    ApiToken.token_sha256 == token_digest(token),
                    ApiToken.revoked.is_(False),
                    WebUser.disabled.is_(False),
                )
            ).scalar_one_or_none()
            return _user(row) if row else None

    # -- annotations -----------------------------------------------------

    def annotate(self, device_id: int, author: str, text: str) -> AnnotationRecord:
        text = text.strip()
        if not text:
            raise ConfigError("an annotation needs some text")
        if len(text) > MAX_ANNOTATION_LEN:
            raise ConfigError(f"an annotation is at most {MAX_ANNOTATION_LEN} characters")
        if "\x00" in text:
            raise ConfigError("an annotation cannot contain NUL characters")
        with self.inventory.session() as s:
            row = Annotation(device_id=device_id, author=author, text=text, created_at=utcnow())
            s.add(row)
            try:
                s.flush()
            except IntegrityError as exc:  # the device's foreign key; the session rolls back on leaving
                raise NotFoundError(f"device {device_id} does not exist") from exc
            return AnnotationRecord(row.id, row.device_id, row.author, row.text, row.created_at)

    def annotations(self, device_id: int) -> list[AnnotationRecord]:
        with self.inventory.session() as s:
            q = select(Annotation).where(Annotation.device_id == device_id).order_by(Annotation.id)
            return [AnnotationRecord(a.id, a.device_id, a.author, a.text, a.created_at) for a in s.scalars(q)]
