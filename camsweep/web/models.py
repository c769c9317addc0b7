"""Tables of the web dashboard (accounts, API tokens, annotations) live with the rest of
the schema in ``db.models`` and come from its Alembic migrations."""

from __future__ import annotations

from db.models import Annotation, ApiToken, WebUser

#: The roles, least to most privileged where they nest (see ``auth.PERMISSIONS``).
ROLES: tuple[str, ...] = ("auditor", "officer", "admin")

__all__ = ["ROLES", "Annotation", "ApiToken", "WebUser"]
