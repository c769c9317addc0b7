"""Tables of the web dashboard: accounts, API tokens and annotations.

They live on the inventory's own ``Base`` so they share its database (one URL,
one backup).  Until the inventory's Alembic migrations include them, the app
creates them idempotently on start (``ensure_tables``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, ForeignKey, String, Text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column

from db.models import Base
from fingerprints.errors import StorageError

#: The roles, least to most privileged where they nest (see ``auth.PERMISSIONS``).
ROLES: tuple[str, ...] = ("auditor", "officer", "admin")


class WebUser(Base):
    """A person who logs in to the dashboard.  Only an argon2 hash of the password is kept."""

    __tablename__ = "web_users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]
    disabled: Mapped[bool] = mapped_column(default=False)


class ApiToken(Base):
    """A bearer token for scripts.  Only its SHA-256 is stored; the token is shown once."""

    __tablename__ = "web_api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("web_users.id"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime]
    revoked: Mapped[bool] = mapped_column(default=False)


class Annotation(Base):
    """An officer's note on a device (append-only; the audit log records each too)."""

    __tablename__ = "web_annotations"
    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), index=True)
    author: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


WEB_TABLES: tuple[str, ...] = (WebUser.__tablename__, ApiToken.__tablename__, Annotation.__tablename__)


def ensure_tables(engine: Engine) -> None:
    """Create the web tables if missing (idempotent; a migration will own this later)."""
    try:
        Base.metadata.create_all(
            engine, tables=[Base.metadata.tables[name] for name in WEB_TABLES], checkfirst=True
        )
    except SQLAlchemyError as exc:
        raise StorageError(f"cannot create the web tables: {exc}") from exc
