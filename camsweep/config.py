"""The configuration file (TOML): database, sites, port sets, credentials references, jobs.

Parsed with the standard library's ``tomllib`` (configuration is data, never
code).  ``tomllib`` reports syntax errors with a line but keeps no positions
for keys, so :class:`_KeyLines` finds each key's line in the text itself; every
validation error names the file, the line and the dotted key, e.g.::

    /etc/camsweep.toml:14: sites.hq.networks[1]: '10.20.0.300/24' is not a network

Secrets never live in the file: a site's ``credentials`` names environment
variables or a separate file, and a key such as ``password`` is refused.
See ``examples/camsweep.toml`` for every key, documented.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from fingerprints.errors import ConfigError
from scanner.credentials import OnvifCredentials, Secret, load_credentials
from scanner.engine import DEFAULT_RATE_PPS, ScanLimits
from scanner.probes.tcp import CAMERA_PORTS
from scanner.targets import DEFAULT_MAX_ADDRESSES, IPNetwork, Scope

DEFAULT_CONFIG_FILE = "camsweep.toml"
CONFIG_ENV = "CAMSWEEP_CONFIG"

#: Port sets every configuration has; a ``[port_sets]`` table may add or override.
BUILTIN_PORT_SETS: dict[str, tuple[int, ...]] = {"camera": CAMERA_PORTS}

#: When a job notifies: flagged devices new since the previous scan, any flagged device, every run.
NOTIFY_WHEN = ("new-flagged", "flagged", "always")

_JOB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_SECRET_WORDS = ("password", "passwd", "secret", "token", "apikey", "api_key")

Path_ = tuple[str | int, ...]


def resolve_config_path(option: str | os.PathLike[str] | None) -> tuple[Path, bool]:
    """``--config``, else ``$CAMSWEEP_CONFIG``, else ``./camsweep.toml``.

    Returns the path and whether it was asked for explicitly (a missing
    explicit file is an error; a missing default file just means "no config").
    """
    if option:
        return Path(option), True
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env), True
    return Path(DEFAULT_CONFIG_FILE), False


@dataclass(frozen=True, slots=True)
class CredentialRef:
    """Where a site's device credentials are: environment variables or a file, never the secret."""

    username_env: str | None = None
    password_env: str | None = None
    file: Path | None = None

    def resolve(self, site: str = "") -> OnvifCredentials | None:
        """Read the credential now (at scan time); ``None`` when it is not set.

        A file has the same YAML format as ``camsweep scan --credentials``
        (``username``/``password``, or per site under ``sites``).
        """
        if self.file is not None:
            return load_credentials(site, self.file)
        user = os.environ.get(self.username_env or "")
        password = os.environ.get(self.password_env or "")
        if user is None or password is None:
            return None
        return OnvifCredentials(user, Secret(password))


@dataclass(frozen=True, slots=True)
class SiteConfig:
    name: str
    networks: tuple[IPNetwork, ...]
    exclude: tuple[IPNetwork, ...] = ()
    ports: tuple[int, ...] = CAMERA_PORTS
    rate_pps: float = DEFAULT_RATE_PPS
    per_host_concurrency: int = 2
    max_addresses: int = DEFAULT_MAX_ADDRESSES
    allow_public: bool = False
    deadline_s: float | None = None
    credentials: CredentialRef | None = None

    @property
    def targets(self) -> list[str]:
        return [str(n) for n in self.networks]

    def scope(self) -> Scope:
        return Scope(
            allow_public=self.allow_public,
            site_networks=self.networks,
            site_name=self.name,
            exclude=self.exclude,
            max_addresses=self.max_addresses,
        )

    def limits(self) -> ScanLimits:
        return ScanLimits(
            rate_pps=self.rate_pps,
            per_host_concurrency=self.per_host_concurrency,
            deadline_s=self.deadline_s,
        )


@dataclass(frozen=True, slots=True)
class NotifyConfig:
    webhook: str | None = None
    webhook_env: str | None = None  # a variable holding the URL, for URLs that carry a token
    email: tuple[str, ...] = ()
    when: str = "new-flagged"

    @property
    def enabled(self) -> bool:
        return bool(self.webhook or self.webhook_env or self.email)

    def webhook_url(self) -> str | None:
        """The webhook URL, read from ``webhook_env`` at send time when given that way."""
        if self.webhook_env:
            url = os.environ.get(self.webhook_env)
            if not url:
                raise ConfigError(f"the webhook URL is to come from ${self.webhook_env}, which is not set")
            return url
        return self.webhook


@dataclass(frozen=True, slots=True)
class JobConfig:
    name: str
    sites: tuple[str, ...]
    cron: str
    notify: NotifyConfig = NotifyConfig()


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int = 25
    sender: str = "camsweep@localhost"
    starttls: bool = False
    username_env: str | None = None
    password_env: str | None = None
    timeout_s: float = 10.0


@dataclass(frozen=True, slots=True)
class Config:
    path: Path
    database_url: str | None = None
    port_sets: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    sites: Mapping[str, SiteConfig] = field(default_factory=dict)
    jobs: Mapping[str, JobConfig] = field(default_factory=dict)
    smtp: SmtpConfig | None = None
    timezone: str | None = None  # None: the machine's local time, as cron and systemd use
    lock_dir: Path | None = None
    webhook_timeout_s: float = 10.0

    def site(self, name: str) -> SiteConfig:
        if name not in self.sites:
            known = ", ".join(sorted(self.sites)) or "none"
            raise ConfigError(f"{self.path}: no site {name!r} (sites: {known})")
        return self.sites[name]

    def job(self, name: str) -> JobConfig:
        if name not in self.jobs:
            known = ", ".join(sorted(self.jobs)) or "none"
            raise ConfigError(f"{self.path}: no job {name!r} (jobs: {known})")
        return self.jobs[name]


class _KeyLines:
    """Line numbers of keys and tables in TOML text (tomllib keeps none).

    Understands ``[a.b]`` and ``[[a]]`` headers (arrays of tables are indexed
    in order), ``key = value`` and dotted keys.  Values spanning lines are
    skipped by counting brackets outside strings.  Keys it cannot place (inside
    an inline table, say) fall back to their nearest placed parent.
    """

    _HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
    _KEY = re.compile(
        r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*="""
    )

    def __init__(self, text: str) -> None:
        self.lines: dict[Path_, int] = {}
        table: Path_ = ()
        array_counts: dict[tuple[str | int, ...], int] = {}
        depth = 0
        for lineno, line in enumerate(text.splitlines(), 1):
            if depth > 0:
                depth = max(0, depth + _bracket_delta(line))
                continue
            header = self._HEADER.match(line)
            if header:
                parts = _in_arrays(tuple(_split_dotted(header.group(2))), array_counts)
                if header.group(1) == "[[":
                    index = array_counts.get(parts, 0)
                    array_counts[parts] = index + 1
                    table = (*parts, index)
                else:
                    table = parts
                self.lines.setdefault(table, lineno)
                continue
            key = self._KEY.match(line)
            if key:
                path = (*table, *_split_dotted(key.group(1)))
                self.lines.setdefault(path, lineno)
                depth = max(0, _bracket_delta(line[key.end() :]))

    def line_of(self, path: Path_) -> int | None:
        for n in range(len(path), 0, -1):
            if path[:n] in self.lines:
                return self.lines[path[:n]]
        return None


def _in_arrays(parts: tuple[str | int, ...], counts: dict[Path_, int]) -> Path_:
    """``[jobs.notify]`` after ``[[jobs]]`` belongs to the latest job: ``("jobs", 0, "notify")``."""
    out: list[str | int] = []
    for i, part in enumerate(parts):
        out.append(part)
        prefix = tuple(out)
        if i < len(parts) - 1 and prefix in counts:
            out.append(counts[prefix] - 1)
    return tuple(out)


def _split_dotted(text: str) -> list[str]:
    return [p.strip().strip("\"'") for p in re.findall(r""""[^"]*"|'[^']*'|[^.]+""", text)]


def _bracket_delta(text: str) -> int:
    """Open minus closed ``[``/``{`` outside strings and comments (for multi-line values)."""
    delta = 0
    quote: str | None = None
    for ch in text:
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            break
        elif ch in "[{":
            delta += 1
        elif ch in "]}":
            delta -= 1
    return delta


def _dotted(path: Path_) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else p)
    return out


class _Validator:
    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.keys = _KeyLines(text)

    def error(self, at: Path_, message: str) -> ConfigError:
        line = self.keys.line_of(at)
        where = f"{self.path}:{line}" if line else str(self.path)
        return ConfigError(f"{where}: {_dotted(at)}: {message}" if at else f"{where}: {message}")

    def table(self, value: Any, at: Path_, allowed: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.error(at, f"must be a table, not {type(value).__name__}")
        for key in value:
            if any(word in key.lower() for word in _SECRET_WORDS) and not key.endswith("_env"):
                raise self.error(
                    (*at, key),
                    "secrets do not belong in the configuration file: name an environment "
                    'variable (password_env = "...") or a credentials file (file = "...")',
                )
        for key in value:
            if key not in allowed:
                raise self.error((*at, key), f"unknown key (allowed here: {', '.join(allowed)})")
        return value

    def string(self, value: Any, at: Path_) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.error(at, "must be a non-empty string")
        return value

    def number(self, value: Any, at: Path_, minimum: float = 0, integer: bool = False) -> float:
        ok = isinstance(value, int) if integer else isinstance(value, int | float)
        if isinstance(value, bool) or not ok or not math.isfinite(value) or value < minimum:
            kind = "an integer" if integer else "a number"
            raise self.error(at, f"must be {kind} >= {minimum}")
        return float(value)

    def boolean(self, value: Any, at: Path_) -> bool:
        if not isinstance(value, bool):
            raise self.error(at, "must be true or false")
        return value

    def strings(self, value: Any, at: Path_) -> list[str]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise self.error(at, "must be a string or a list of strings")
        return [self.string(v, (*at, i)) for i, v in enumerate(value)]

    def networks(self, value: Any, at: Path_) -> tuple[IPNetwork, ...]:
        out: list[IPNetwork] = []
        for i, text in enumerate(self.strings(value, at)):
            try:
                out.append(ipaddress.ip_network(text.strip(), strict=False))
            except ValueError:
                raise self.error((*at, i), f"{text!r} is not a network (e.g. 10.20.0.0/24)") from None
        return tuple(out)

    def ports(self, value: Any, at: Path_, port_sets: Mapping[str, tuple[int, ...]]) -> tuple[int, ...]:
        """A port set name, or a list of ports and ``"a-b"`` ranges."""
        if isinstance(value, str):
            if value not in port_sets:
                known = ", ".join(sorted(port_sets))
                raise self.error(at, f"no port set {value!r} (port sets: {known})")
            return port_sets[value]
        if not isinstance(value, list) or not value:
            raise self.error(at, "must be a port set name or a non-empty list of ports")
        ports: list[int] = []
        for i, item in enumerate(value):
            lo: Any = item
            hi: Any = item
            if isinstance(item, str) and re.fullmatch(r"\s*\d+\s*-\s*\d+\s*", item):
                lo, hi = (int(x) for x in item.split("-"))
            if isinstance(lo, bool) or not isinstance(lo, int) or not isinstance(hi, int):
                raise self.error((*at, i), f'{item!r} is not a port or a range such as "8000-8010"')
            if not (0 < lo <= hi < 65536):
                raise self.error((*at, i), f"{item!r} is outside 1-65535")
            ports.extend(range(lo, hi + 1))
        return tuple(dict.fromkeys(ports))

    def env_name(self, value: Any, at: Path_) -> str:
        text = self.string(value, at)
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text):
            raise self.error(at, f"{text!r} is not an environment variable name")
        return text


_SITE_KEYS = (
    "networks",
    "exclude",
    "ports",
    "rate_pps",
    "per_host_concurrency",
    "max_addresses",
    "allow_public",
    "deadline_s",
    "credentials",
)


def parse_config(text: str, path: Path) -> Config:
    """Validate TOML text; every error names ``path``, the line and the key."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib puts the position at the end of its message: "... (at line 3, column 9)";
        # move the line to the front so every configuration error reads FILE:LINE: ...
        position = re.search(r"\s*\(at (?:line (\d+), column \d+|end of document)\)$", str(exc))
        if position is None:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
        line = position.group(1) or str(len(text.splitlines()) or 1)
        message = str(exc)[: position.start()]
        raise ConfigError(f"{path}:{line}: not valid TOML: {message}") from exc
    v = _Validator(path, text)
    v.table(doc, (), ("database", "port_sets", "scan", "sites", "jobs", "schedule", "smtp"))

    database_url = None
    if "database" in doc:
        db = v.table(doc["database"], ("database",), ("url",))
        if "url" in db:
            database_url = v.string(db["url"], ("database", "url"))
            if "://" not in database_url:  # a SQLite file path, relative to the config file
                database_url = f"sqlite:///{(path.parent / database_url).resolve()}"

    port_sets = dict(BUILTIN_PORT_SETS)
    for name, ports in v.table(
        doc.get("port_sets", {}), ("port_sets",), tuple(doc.get("port_sets", {}))
    ).items():
        port_sets[name] = v.ports(ports, ("port_sets", name), {})

    defaults = v.table(doc.get("scan", {}), ("scan",), _SITE_KEYS[2:])
    sites: dict[str, SiteConfig] = {}
    raw_sites = v.table(doc.get("sites", {}), ("sites",), tuple(doc.get("sites", {})))
    for name, raw in raw_sites.items():
        at: Path_ = ("sites", name)
        raw = v.table(raw, at, _SITE_KEYS)
        if "networks" not in raw:
            raise v.error(at, 'needs networks = ["10.20.0.0/24", ...] (the site\'s scope)')
        merged = {**defaults, **raw}

        def where(key: str, _raw: dict[str, Any] = raw, _at: Path_ = at) -> Path_:
            return (*_at, key) if key in _raw else ("scan", key)

        creds = None
        if "credentials" in merged:
            c = v.table(merged["credentials"], where("credentials"), ("username_env", "password_env", "file"))
            cat = where("credentials")
            if "file" in c:
                creds = CredentialRef(file=(path.parent / v.string(c["file"], (*cat, "file"))))
            elif "username_env" in c and "password_env" in c:
                creds = CredentialRef(
                    username_env=v.env_name(c["username_env"], (*cat, "username_env")),
                    password_env=v.env_name(c["password_env"], (*cat, "password_env")),
                )
            else:
                raise v.error(cat, "give username_env and password_env, or file")
        sites[name] = SiteConfig(
            name=name,
            networks=v.networks(raw["networks"], (*at, "networks")),
            exclude=v.networks(raw.get("exclude", []), (*at, "exclude")),
            ports=v.ports(merged["ports"], where("ports"), port_sets) if "ports" in merged else CAMERA_PORTS,
            rate_pps=v.number(merged.get("rate_pps", DEFAULT_RATE_PPS), where("rate_pps"), minimum=0.1),
            per_host_concurrency=int(
                v.number(merged.get("per_host_concurrency", 2), where("per_host_concurrency"), 1, True)
            ),
            max_addresses=int(
                v.number(merged.get("max_addresses", DEFAULT_MAX_ADDRESSES), where("max_addresses"), 1, True)
            ),
            allow_public=v.boolean(merged.get("allow_public", False), where("allow_public")),
            deadline_s=(
                v.number(merged["deadline_s"], where("deadline_s"), minimum=1)
                if "deadline_s" in merged
                else None
            ),
            credentials=creds,
        )
        try:
            sites[name].scope().check(_as_specs(sites[name]))
        except ConfigError as exc:
            raise v.error((*at, "networks"), str(exc)) from exc

    timezone = None
    lock_dir = None
    webhook_timeout_s = 10.0
    if "schedule" in doc:
        sch = v.table(doc["schedule"], ("schedule",), ("timezone", "lock_dir", "webhook_timeout_s"))
        if "timezone" in sch:
            timezone = v.string(sch["timezone"], ("schedule", "timezone"))
            try:
                ZoneInfo(timezone)
            except (ZoneInfoNotFoundError, ValueError):
                raise v.error(
                    ("schedule", "timezone"), f"{timezone!r} is not a time zone (e.g. Europe/London)"
                ) from None
        if "lock_dir" in sch:
            lock_dir = path.parent / v.string(sch["lock_dir"], ("schedule", "lock_dir"))
        if "webhook_timeout_s" in sch:
            webhook_timeout_s = v.number(sch["webhook_timeout_s"], ("schedule", "webhook_timeout_s"), 0.1)

    smtp = None
    if "smtp" in doc:
        s = v.table(
            doc["smtp"],
            ("smtp",),
            ("host", "port", "sender", "starttls", "username_env", "password_env", "timeout_s"),
        )
        if "host" not in s:
            raise v.error(("smtp",), 'needs host = "mail.example.org"')
        smtp = SmtpConfig(
            host=v.string(s["host"], ("smtp", "host")),
            port=int(v.number(s.get("port", 25), ("smtp", "port"), 1, True)),
            sender=v.string(s.get("sender", "camsweep@localhost"), ("smtp", "sender")),
            starttls=v.boolean(s.get("starttls", False), ("smtp", "starttls")),
            username_env=v.env_name(s["username_env"], ("smtp", "username_env"))
            if "username_env" in s
            else None,
            password_env=v.env_name(s["password_env"], ("smtp", "password_env"))
            if "password_env" in s
            else None,
            timeout_s=v.number(s.get("timeout_s", 10.0), ("smtp", "timeout_s"), 0.1),
        )

    jobs: dict[str, JobConfig] = {}
    raw_jobs = doc.get("jobs", [])
    if not isinstance(raw_jobs, list):
        raise v.error(("jobs",), "must be an array of tables: write each job as [[jobs]]")
    for i, raw in enumerate(raw_jobs):
        at = ("jobs", i)
        raw = v.table(raw, at, ("name", "site", "sites", "cron", "notify"))
        for required in ("name", "cron"):
            if required not in raw:
                raise v.error(at, f"needs {required} = ...")
        name = v.string(raw["name"], (*at, "name"))
        if not _JOB_NAME.match(name):
            raise v.error(
                (*at, "name"), f"{name!r}: use letters, digits, '-', '_' or '.' (it names files and units)"
            )
        if name in jobs:
            raise v.error((*at, "name"), f"job {name!r} is defined twice")
        if ("site" in raw) == ("sites" in raw):
            raise v.error(at, 'give either site = "NAME" or sites = ["A", "B"]')
        key = "site" if "site" in raw else "sites"
        job_sites = v.strings(raw[key], (*at, key))
        for j, s_name in enumerate(job_sites):
            if s_name not in sites:
                known = ", ".join(sorted(sites)) or "none defined"
                raise v.error(
                    (*at, key, j) if key == "sites" else (*at, key), f"no site {s_name!r} (sites: {known})"
                )
        cron = v.string(raw["cron"], (*at, "cron"))
        if len(cron.split()) != 5 or not croniter.is_valid(cron):
            raise v.error(
                (*at, "cron"),
                f"{cron!r} is not a cron expression: five fields, minute hour day-of-month month "
                'day-of-week, e.g. "30 1 * * *" for 01:30 every night',
            )
        notify = NotifyConfig()
        if "notify" in raw:
            n = v.table(raw["notify"], (*at, "notify"), ("webhook", "webhook_env", "email", "when"))
            webhook = v.string(n["webhook"], (*at, "notify", "webhook")) if "webhook" in n else None
            webhook_env = (
                v.env_name(n["webhook_env"], (*at, "notify", "webhook_env")) if "webhook_env" in n else None
            )
            if webhook and webhook_env:
                raise v.error((*at, "notify"), "give webhook or webhook_env, not both")
            if webhook and not webhook.startswith(("http://", "https://")):
                raise v.error((*at, "notify", "webhook"), "must be an http:// or https:// URL")
            emails = tuple(v.strings(n.get("email", []), (*at, "notify", "email")))
            for j, addr in enumerate(emails):
                if "@" not in addr:
                    raise v.error((*at, "notify", "email", j), f"{addr!r} is not an email address")
            if emails and smtp is None:
                raise v.error((*at, "notify", "email"), 'email needs an [smtp] table (host = "...")')
            when = v.string(n.get("when", "new-flagged"), (*at, "notify", "when"))
            if when not in NOTIFY_WHEN:
                raise v.error((*at, "notify", "when"), f"must be one of: {', '.join(NOTIFY_WHEN)}")
            notify = NotifyConfig(webhook=webhook, webhook_env=webhook_env, email=emails, when=when)
        jobs[name] = JobConfig(name=name, sites=tuple(job_sites), cron=cron, notify=notify)

    return Config(
        path=path,
        database_url=database_url,
        port_sets=port_sets,
        sites=sites,
        jobs=jobs,
        smtp=smtp,
        timezone=timezone,
        lock_dir=lock_dir,
        webhook_timeout_s=webhook_timeout_s,
    )


def _as_specs(site: SiteConfig) -> list[Any]:
    from scanner.targets import parse_targets

    return parse_targets(site.targets)


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate a configuration file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{p}: no such configuration file (copy examples/camsweep.toml, or pass --config FILE)"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{p}: cannot be read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p}: is not UTF-8 text") from exc
    return parse_config(text, p.resolve())


def find_config(option: str | os.PathLike[str] | None) -> Config | None:
    """The configuration named by ``--config``/``$CAMSWEEP_CONFIG``, or ``./camsweep.toml`` if present."""
    path, explicit = resolve_config_path(option)
    if not explicit and not path.exists():
        return None
    return load_config(path)
