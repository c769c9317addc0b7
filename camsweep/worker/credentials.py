"""A site's ONVIF credentials, resolved on the worker host: never carried by the broker.

A chunk message names its site and nothing secret (``Secret`` cannot even be
pickled).  The worker looks the site up where ``camsweep scan`` would, in this
order:

1. ``$CAMSWEEP_CREDENTIALS``: a credentials file, the format of
   ``camsweep scan --credentials`` (one ``username``/``password``, or per site
   under ``sites``); ``camsweep worker run --credentials FILE`` sets it;
2. the configuration's site entry (``$CAMSWEEP_CONFIG``, else ``./camsweep.toml``;
   ``camsweep worker run --config FILE``): its ``credentials`` reference
   (environment variable names or a file);
3. ``$CAMSWEEP_ONVIF_USER`` / ``$CAMSWEEP_ONVIF_PASSWORD`` of the worker process.

Resolved again for every chunk, so a rotated password is used without a restart.
"""

from __future__ import annotations

import os
from pathlib import Path

from camsweep.api import site_credentials
from camsweep.config import find_config
from scanner.credentials import OnvifCredentials, load_credentials

#: Path of the worker's credentials file (the same format as ``camsweep scan --credentials``).
CREDENTIALS_ENV = "CAMSWEEP_CREDENTIALS"


def credentials_for_site(site: str) -> OnvifCredentials | None:
    """The ONVIF account this worker host holds for ``site``; ``None``: scan without one.

    Errors (``ConfigError``) name the file and the problem, never the secret.
    """
    env_file = os.environ.get(CREDENTIALS_ENV)
    override = Path(env_file) if env_file else None
    config = find_config(None)
    if config is not None and site in config.sites:
        return site_credentials(config.sites[site], override)
    return load_credentials(site, override)


def credentials_source(site: str) -> str:
    """Where ``credentials_for_site`` finds ``site``'s account, for the worker's start-up line."""
    if credentials_for_site(site) is None:
        return "none (chunks are scanned without ONVIF credentials)"
    env_file = os.environ.get(CREDENTIALS_ENV)
    if env_file:
        return f"credentials file {env_file}"
    config = find_config(None)
    if config is not None and site in config.sites and config.sites[site].credentials is not None:
        return f"site {site!r} of {config.path}"
    return "$CAMSWEEP_ONVIF_USER/$CAMSWEEP_ONVIF_PASSWORD"
