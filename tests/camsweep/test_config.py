"""The configuration file: the documented example loads; every error names file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from camsweep.config import CredentialRef, load_config, parse_config
from fingerprints.errors import ConfigError
from tests.helpers import REPO_ROOT, run_cli

EXAMPLE = REPO_ROOT / "examples" / "camsweep.toml"


def test_example_file_loads_with_its_sites_and_jobs() -> None:
    cfg = load_config(EXAMPLE)
    assert set(cfg.sites) == {"headquarters", "custody-suite"}
    hq = cfg.sites["headquarters"]
    assert [str(n) for n in hq.networks] == ["10.20.0.0/24", "10.20.8.0/22"]
    assert 8005 in hq.ports and 554 in hq.ports  # the "web-and-rtsp" port set with its range
    assert hq.rate_pps == 100 and cfg.sites["custody-suite"].rate_pps == 200  # [scan] default
    assert hq.credentials == CredentialRef(
        username_env="CAMSWEEP_HQ_USER", password_env="CAMSWEEP_HQ_PASSWORD"
    )
    assert cfg.jobs["nightly"].sites == ("headquarters", "custody-suite")
    assert cfg.jobs["nightly"].notify.email == ("security-officer@example.internal",)
    assert cfg.timezone == "Europe/London"
    assert cfg.database_url == f"sqlite:///{EXAMPLE.parent.resolve() / 'camsweep.db'}"
    scope = hq.scope()
    assert scope.site_name == "headquarters" and scope.exclude and scope.site_networks == hq.networks


def _error(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(text, Path("/etc/camsweep.toml"))
    return str(info.value)


SITES = '[sites.hq]\nnetworks = ["10.20.0.0/24"]\n'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[sites.hq]\nnetworks = ["10.20.0.0/24",\n  "10.20.300.0/24"]\n',
            "/etc/camsweep.toml:2: sites.hq.networks[1]:",
        ),
        (SITES + "rate_pps = -1\n", "/etc/camsweep.toml:3: sites.hq.rate_pps: must be a number >= 0.1"),
        (SITES + "colour = 'red'\n", "/etc/camsweep.toml:3: sites.hq.colour: unknown key"),
        (SITES + "rate_pps = nan\n", "/etc/camsweep.toml:3: sites.hq.rate_pps: must be a number"),
        ("[scan]\nrate_pps = inf\n" + SITES, "/etc/camsweep.toml:2: scan.rate_pps: must be a number"),
        (SITES + "ports = 'nope'\n", "/etc/camsweep.toml:3: sites.hq.ports: no port set 'nope'"),
        (
            SITES + "ports = [80, 70000]\n",
            "/etc/camsweep.toml:3: sites.hq.ports[1]: 70000 is outside 1-65535",
        ),
        (
            SITES + "credentials = { username = 'u', password = 'hunter2' }\n",
            "sites.hq.credentials.password: secrets do not belong",
        ),
        (
            '[sites.web]\nnetworks = ["8.8.8.0/24"]\n',
            "/etc/camsweep.toml:2: sites.web.networks: target '8.8.8.0/24' includes public",
        ),
        ("[sites.hq]\nexclude = []\n", "/etc/camsweep.toml:1: sites.hq: needs networks"),
        (
            SITES
            + '[[jobs]]\nname = "a"\nsite = "hq"\ncron = "0 1 * * *"\n[[jobs]]\nname = "b"\nsite = "hq"\ncron = "61 * * * *"\n',
            "/etc/camsweep.toml:10: jobs[1].cron: '61 * * * *' is not a cron expression",
        ),
        (
            SITES + '[[jobs]]\nname = "a"\nsites = ["hq", "depot"]\ncron = "0 1 * * *"\n',
            "/etc/camsweep.toml:5: jobs[0].sites[1]: no site 'depot' (sites: hq)",
        ),
        (
            SITES + '[[jobs]]\nname = "a"\nsite = "hq"\ncron = "0 1 * * *"\nnotify = { email = "x@y" }\n',
            "jobs[0].notify.email: email needs an [smtp] table",
        ),
        (
            SITES
            + '[[jobs]]\nname = "a"\nsite = "hq"\ncron = "0 1 * * *"\n[jobs.notify]\nwhen = "sometimes"\n',
            "/etc/camsweep.toml:8: jobs[0].notify.when: must be one of",
        ),
        (
            '[schedule]\ntimezone = "Mars/Olympus"\n',
            "/etc/camsweep.toml:2: schedule.timezone: 'Mars/Olympus' is not a time zone",
        ),
        ("[sites.hq\n", "/etc/camsweep.toml:1: not valid TOML"),
        ("[database]\nurl = 5\n", "/etc/camsweep.toml:2: database.url: must be a non-empty string"),
    ],
)
def test_errors_name_file_line_and_key(text: str, expected: str) -> None:
    assert expected in _error(text)


def test_credentials_are_read_from_the_environment_at_use(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = parse_config(
        SITES + "credentials = { username_env = 'CS_U', password_env = 'CS_P' }\n", Path("x.toml")
    )
    creds = cfg.sites["hq"].credentials
    assert creds is not None and creds.resolve() is None
    monkeypatch.setenv("CS_U", "viewer")
    monkeypatch.setenv("CS_P", "s3cret")
    resolved = creds.resolve("hq")
    assert resolved is not None and resolved.username == "viewer" and resolved.password.reveal() == "s3cret"
    assert "s3cret" not in repr(resolved)


def test_config_check_cli_reports_the_error_and_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "camsweep.toml"
    bad.write_text('[sites.hq]\nnetworks = ["10.20.0.0/24"]\nrate_pps = "fast"\n')
    r = run_cli("config", "check", "--config", str(bad))
    assert r.returncode == 2
    assert f"{bad}:3: sites.hq.rate_pps: must be a number" in r.stderr
    r = run_cli("config", "check", "--config", str(EXAMPLE), "--json")
    assert r.returncode == 0, r.stderr
    assert '"nightly"' in r.stdout


def test_missing_explicit_config_says_what_to_do(tmp_path: Path) -> None:
    r = run_cli("scan", "--config", str(tmp_path / "nope.toml"))
    assert r.returncode == 2 and "examples/camsweep.toml" in r.stderr


def test_readme_recipe_is_a_valid_configuration_and_its_error_example_is_true() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Daily operations") :]
    block = section[
        section.index("```toml") + len("```toml") : section.index("```", section.index("```toml") + 7)
    ]
    text = "\n".join(line[3:] if line.startswith("   ") else line for line in block.strip("\n").splitlines())
    cfg = parse_config(text, Path("/etc/camsweep.toml"))
    assert set(cfg.sites) == {"headquarters", "custody-suite"}
    assert (
        cfg.jobs["nightly"].cron == "30 1 * * *"
        and cfg.database_url == "sqlite:////var/lib/camsweep/camsweep.db"
    )
    quoted = section.split("key: `", 1)[1].split("`", 1)[0]
    assert _error(text.replace("10.20.8.0/22", "10.20.8.0/2x")).startswith(quoted)


_PIECES = [
    "[sites.hq]\n", "[sites]\n", "hq = 1\n", 'networks = ["10.0.0.0/24"]\n', "networks = [1]\n",
    "[[jobs]]\n", 'name = "a"\n', "name = 3\n", 'site = "hq"\n', "sites = []\n", 'cron = "* * * * *"\n',
    'cron = "@daily"\n', "[jobs.notify]\n", "notify = 1\n", 'webhook = "http://x"\n', "email = [1]\n",
    "[smtp]\n", 'host = "h"\n', 'port = "x"\n', "[scan]\n", 'ports = "camera"\n', 'ports = ["1-0"]\n',
    "ports = {a=1}\n", "[port_sets]\n", "a = [1]\n", 'credentials = { file = "x" }\n', "credentials = 1\n",
    "[schedule]\n", 'timezone = ""\n', "[database]\n", 'url = "x"\n', "jobs = [1]\n", "rate_pps = nan\n",
    "per_host_concurrency = 1.5\n", '"a.b" = 1\n', "[[sites.hq.x]]\n", "password = 'x'\n", "[a\n",
]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), min_size=1, max_size=12))
def test_any_configuration_loads_or_says_what_is_wrong(pieces: list[str]) -> None:
    """An operator's file either loads or raises ConfigError naming the file; nothing else escapes."""
    try:
        parse_config("".join(pieces), Path("/etc/camsweep.toml"))
    except ConfigError as exc:
        assert str(exc).startswith("/etc/camsweep.toml")
