"""Plain data types that flow scanner -> fingerprints -> db.

``Evidence`` is one fact a device told us (a banner, a scope, a MAC), keyed by
the evidence keys that the rule files are named after (``http.server``,
``rtsp.server``, ``onvif.manufacturer``, ``wsd.scope``, ``mac.oui`` ...).
``Identification`` is what the matcher concluded from all evidence of a host,
with the matches that support it so it can be explained.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

# Evidence keys the matcher knows.  A probe may emit other keys (kept as raw
# evidence in the inventory); only these are matched against rule files.
EVIDENCE_KEYS: tuple[str, ...] = (
    "port.open",
    "http.server",
    "http.realm",
    "http.title",
    "http.favicon",
    "http.location",
    "http.path",
    "tls.subject",
    "tls.issuer",
    "rtsp.server",
    "rtsp.realm",
    "rtsp.sdp",
    "onvif.manufacturer",
    "onvif.model",
    "onvif.firmware",
    "onvif.serial",
    "onvif.hardware",
    "onvif.endpoint",
    "onvif.capability",
    "onvif.clock_skew_s",
    "wsd.scope",
    "wsd.endpoint",
    "wsd.xaddr",
    "mdns.service",
    "mdns.txt",
    "mac.address",
    "sdk.banner",
    # Added by the scanner (issue 4): raw, bounded values the rules may match.
    "http.headers",  # header names in wire order and casing, comma-joined (no Server shows here)
    "http.api",  # "<vendor API path> <status>[ realm=<realm>]", e.g. "/ISAPI/System/deviceInfo 401 ..."
    "rtsp.public",  # RTSP Public methods, comma-joined, upper-case
    "onvif.mac",  # MAC from GetNetworkInterfaces (credentialed)
    "onvif.channel",  # a recorder's attached camera: "<receiver token> <media URI without userinfo>"
    "wsd.type",  # WS-Discovery Types, one QName each
)


@dataclass(frozen=True, slots=True)
class Evidence:
    """One fact observed about a host.

    ``source`` says where it came from, as ``probe:port`` (``http:80``,
    ``rtsp:554``, ``wsd:3702``, ``arp``).
    """

    key: str
    value: str
    source: str = ""


@dataclass(frozen=True, slots=True)
class Match:
    """One rule that matched one piece of evidence, and what it set."""

    rule_id: str
    key: str
    value: str
    source: str
    sets: tuple[tuple[str, str], ...]
    certainty: float
    description: str = ""


@dataclass(frozen=True, slots=True)
class Identification:
    """What the matcher concluded about one host."""

    is_camera: bool = False
    brand: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    firmware: str | None = None
    serial: str | None = None
    category: str | None = None
    confidence: float = 0.0
    policy_flags: tuple[str, ...] = ()
    advisories: tuple[str, ...] = ()
    capabilities: tuple[str, ...] = ()
    supporting: tuple[Match, ...] = ()
    contradicting: tuple[Match, ...] = ()
    explanation: tuple[str, ...] = field(default=())
    # Added by the fingerprints layer (additive): the firmware parsed for comparison.
    firmware_normalised: str | None = None
    build_date: str | None = None
    oem_build: str | None = None


UNKNOWN = Identification()


#: Bytes kept of any raw response; devices are untrusted and may send gigabytes.
MAX_RAW_BYTES = 16 * 1024


class Status(enum.StrEnum):
    """The fixed status vocabulary of every probe (after ZGrab2's status.go)."""

    SUCCESS = "success"
    REFUSED = "refused"
    TIMEOUT = "timeout"
    CLOSED = "closed"
    TLS_ERROR = "tls-error"
    PROTOCOL_MISMATCH = "protocol-mismatch"
    UNEXPECTED_RESPONSE = "unexpected-response"
    AUTH_REQUIRED = "auth-required"
    OUT_OF_SCOPE = "out-of-scope"
    ERROR = "error"


@dataclass(slots=True)
class Observation:
    """What one probe saw of one address and port: a status, evidence and raw bytes.

    Probes build these (as ``ProbeResult``); the inventory stores them
    append-only, so identification can be re-run later.
    """

    probe: str
    ip: str
    port: int
    status: Status
    evidence: list[Evidence] = field(default_factory=list)
    raw: bytes = b""
    detail: str = ""

    def add(self, key: str, value: str | None) -> None:
        """Add one evidence item, sourced ``probe:port``; empty values are ignored."""
        if value:
            self.evidence.append(Evidence(key, value, f"{self.probe}:{self.port}"))


@dataclass(slots=True)
class HostReport:
    """Everything the scanner learned about one address in one scan."""

    ip: str
    observations: list[Observation] = field(default_factory=list)
    mac: str | None = None
    #: Set when this host was not reached on the network but listed by a recorder
    #: (NVR/DVR channel list): the recorder's address.  The inventory then calls
    #: the device ``recorder-attached`` unless it is also seen directly.
    via_recorder: str | None = None

    @property
    def evidence(self) -> list[Evidence]:
        out = [e for o in self.observations for e in o.evidence]
        if self.mac:
            out.append(Evidence("mac.address", self.mac, "arp"))
        return out

    @property
    def open_ports(self) -> list[int]:
        return sorted({o.port for o in self.observations if o.probe == "tcp" and o.status is Status.SUCCESS})
