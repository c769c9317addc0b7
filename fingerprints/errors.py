"""The one exception tree of camsweep.

Every error camsweep raises on purpose is a ``CamsweepError``; third-party
errors (SQLAlchemy, httpx, zeep, XML parsers) are caught at the layer that
called them and re-raised as one of these, ``from exc``::

    CamsweepError
    ├── ConfigError            configuration files and command-line arguments
    │   └── ScopeError         a target outside what the operator allowed
    ├── FingerprintDataError   a fingerprint/manufacturer data file is malformed
    ├── StorageError           the inventory database refused or failed
    │   └── NotFoundError      a device, scan or site that does not exist
    ├── ImportFileError        an import file (CSV, JSON, nmap XML) is malformed
    └── LabError               the emulated camera lab could not start or stop

A misbehaving *device* is never an exception: probes report it as a status
(see ``scanner.probes.base.Status``).  Exceptions are for operator mistakes,
bad data files, storage failures and our own bugs.

The tree lives in ``fingerprints`` because that package depends on nothing
of ours, so every other package can import it.
"""

from __future__ import annotations


class CamsweepError(Exception):
    """Base of every error camsweep raises on purpose."""


class ConfigError(CamsweepError):
    """A configuration file or argument is wrong; the message says where."""


class ScopeError(ConfigError):
    """A target is outside the allowed scope; raised before any packet is sent."""


class FingerprintDataError(CamsweepError):
    """A fingerprint data file is malformed; the message names file, entry and reason."""


class StorageError(CamsweepError):
    """The inventory database failed."""


class NotFoundError(StorageError):
    """The requested record does not exist."""


class ImportFileError(CamsweepError):
    """An import file is malformed; the message names file, line and field."""


class LabError(CamsweepError):
    """The emulated lab could not be brought up or down."""
