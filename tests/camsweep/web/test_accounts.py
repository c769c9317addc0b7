"""Accounts on both backends: what is stored is a hash, never the secret."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from camsweep.web.accounts import Accounts, token_digest
from camsweep.web.models import ApiToken, WebUser
from db.repository import Inventory
from fingerprints.errors import ConfigError, NotFoundError


def test_passwords_and_tokens_are_stored_only_as_hashes(db_url: str) -> None:
    inv = Inventory(db_url)
    try:
        accounts = Accounts(inv)
        Accounts(inv)  # creating the tables again is harmless
        user = accounts.add_user("olivia", "officer", "officer-pass-123")
        token = accounts.issue_token("olivia", "nightly export")
        with inv.engine.connect() as conn:
            stored_hash = conn.execute(select(WebUser.password_hash)).scalar_one()
            stored_token = conn.execute(select(ApiToken.token_sha256)).scalar_one()
        assert stored_hash.startswith("$argon2id$") and "officer-pass-123" not in stored_hash
        assert stored_token == token_digest(token) and token not in stored_token

        assert accounts.authenticate("olivia", "officer-pass-123") == user
        assert accounts.authenticate("olivia", "officer-pass-124") is None
        assert accounts.authenticate("nobody", "officer-pass-123") is None
        assert accounts.user_for_token(token) == user
        assert accounts.user_for_token(token + "x") is None
        assert user.can("annotate") and user.can("export") and not user.can("scan")

        with pytest.raises(ConfigError, match="already exists"):
            accounts.add_user("olivia", "admin", "another-pass-123")
        with pytest.raises(ConfigError, match="role"):
            accounts.add_user("eve", "root", "another-pass-123")

        accounts.remove_user("olivia")
        assert accounts.authenticate("olivia", "officer-pass-123") is None
        assert accounts.user_for_token(token) is None
        with pytest.raises(NotFoundError):
            accounts.issue_token("olivia")
    finally:
        inv.close()


def test_annotations_need_text_and_an_existing_device(db_url: str) -> None:
    inv = Inventory(db_url)
    try:
        accounts = Accounts(inv)
        with pytest.raises(ConfigError, match="needs some text"):
            accounts.annotate(1, "olivia", "   ")
        with pytest.raises(NotFoundError):
            accounts.annotate(424242, "olivia", "a note on nothing")
        with pytest.raises(ConfigError, match="NUL"):
            accounts.annotate(1, "olivia", "nul \x00 byte")
        assert accounts.authenticate("olivia\x00", "whatever-pass") is None
        assert accounts.annotations(424242) == []
    finally:
        inv.close()


def test_the_api_annotation_pattern_agrees_with_what_accounts_accept() -> None:
    from pydantic import ValidationError

    from camsweep.web.app import AnnotationIn

    for cp in range(1, 0x3100):
        text = chr(cp)
        try:
            AnnotationIn(text=text)
            accepted = True
        except ValidationError:
            accepted = False
        assert accepted == bool(text.strip()), hex(cp)
