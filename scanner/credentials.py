"""Operator-supplied ONVIF credentials: one per site, never stored, logged or exported.

Discovery never guesses passwords: it uses only the one credential the
operator gives, from the environment (``CAMSWEEP_ONVIF_USER`` and
``CAMSWEEP_ONVIF_PASSWORD``) or from a file (``--credentials FILE``)::

    # either one credential for every site ...
    username: inventory
    password: s3cret
    # ... or one per site (the site's entry wins)
    sites:
      hq: {username: inventory, password: s3cret}

The password is held in :class:`Secret`, whose ``repr``/``str`` hide it, so a
log line, a traceback or an exported record cannot leak it by accident.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from fingerprints.errors import ConfigError

ENV_USER = "CAMSWEEP_ONVIF_USER"
ENV_PASSWORD = "CAMSWEEP_ONVIF_PASSWORD"


class Secret:
    """A string that does not show itself; call :meth:`reveal` where it is sent."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> Any:
        # Never pickled into a task queue or a cache by accident.
        raise TypeError("Secret values are not picklable")


@dataclass(frozen=True, slots=True)
class OnvifCredentials:
    """One operator-supplied ONVIF account; ``password`` hides itself."""

    username: str
    password: Secret

    def __repr__(self) -> str:
        return f"OnvifCredentials(username={self.username!r}, password=********)"

    __str__ = __repr__


def _one(entry: Any, where: str) -> OnvifCredentials:
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where}: expected a mapping with username and password")
    user, password = entry.get("username"), entry.get("password")
    if not isinstance(user, str) or not user or not isinstance(password, str):
        raise ConfigError(f"{where}: needs a non-empty 'username' and a 'password' (strings)")
    return OnvifCredentials(user, Secret(password))


def _read_yaml(path: Path) -> Any:
    """The file's YAML; errors name the file and the line, never the text.

    The YAML parser's message quotes the offending line, and that line may hold
    the password: it is neither repeated nor chained (``__cause__``/``__context__``
    would carry it into any logged traceback).
    """
    problem = None
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        problem = f"cannot read credentials file {path}: {exc.strerror}"
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark is not None else "?"
        problem = f"credentials file {path}:{line}: not valid YAML"
    except (yaml.YAMLError, UnicodeDecodeError):
        problem = f"credentials file {path} is not valid YAML (UTF-8)"
    raise ConfigError(problem)


def load_credentials(
    site: str, path: Path | None = None, environ: Mapping[str, str] | None = None
) -> OnvifCredentials | None:
    """The credential for ``site``: from ``path`` if given, else the environment, else ``None``.

    Errors name the file and the problem, never the secret.
    """
    env = os.environ if environ is None else environ
    if path is not None:
        data = _read_yaml(path)
        if not isinstance(data, Mapping):
            raise ConfigError(f"credentials file {path}: expected a mapping")
        sites = data.get("sites")
        if sites is not None:
            if not isinstance(sites, Mapping):
                raise ConfigError(f"credentials file {path}: 'sites' must be a mapping")
            if site in sites:
                return _one(sites[site], f"credentials file {path}, site {site!r}")
        if "username" in data or "password" in data:
            return _one(data, f"credentials file {path}")
        return None
    user, password = env.get(ENV_USER), env.get(ENV_PASSWORD)
    if user and password is not None:
        return OnvifCredentials(user, Secret(password))
    if user or password:
        raise ConfigError(f"set both {ENV_USER} and {ENV_PASSWORD}, or neither")
    return None
