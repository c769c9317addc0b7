"""Operator credentials: loaded from a file or the environment, never shown."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from fingerprints.errors import ConfigError
from scanner.credentials import ENV_PASSWORD, ENV_USER, OnvifCredentials, Secret, load_credentials


def test_secret_hides_itself(caplog: pytest.LogCaptureFixture) -> None:
    creds = OnvifCredentials("inventory", Secret("hunter2"))
    for text in (repr(creds), str(creds), f"{creds}", repr(creds.password), str(creds.password)):
        assert "hunter2" not in text
    with caplog.at_level(logging.INFO):
        logging.getLogger("t").info("using %s / %r", creds, creds.password)
    assert "hunter2" not in caplog.text
    assert creds.password.reveal() == "hunter2"
    import pickle

    with pytest.raises(TypeError):
        pickle.dumps(creds.password)


def test_file_global_and_per_site(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("username: all\npassword: pw-all\nsites:\n  hq: {username: hq-user, password: pw-hq}\n")
    hq = load_credentials("hq", f)
    assert hq is not None and hq.username == "hq-user" and hq.password.reveal() == "pw-hq"
    other = load_credentials("depot", f)
    assert other is not None and other.username == "all"


def test_file_errors_never_quote_the_secret(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("username: u\npassword: [unclosed s3cr3t\n")
    with pytest.raises(ConfigError) as err:
        load_credentials("hq", f)
    assert "s3cr3t" not in str(err.value) and str(f) in str(err.value)
    f.write_text("username: u\n")
    with pytest.raises(ConfigError, match="password"):
        load_credentials("hq", f)
    with pytest.raises(ConfigError, match="cannot read"):
        load_credentials("hq", tmp_path / "missing.yaml")


def test_environment() -> None:
    env = {ENV_USER: "u", ENV_PASSWORD: "p"}
    creds = load_credentials("hq", None, env)
    assert creds is not None and creds.password.reveal() == "p"
    assert load_credentials("hq", None, {}) is None
    with pytest.raises(ConfigError, match="both"):
        load_credentials("hq", None, {ENV_USER: "u"})
