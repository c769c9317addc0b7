"""The parser fuzz matrix: every parser of device bytes and operator files, seeded from the lab.

Seeds are the lab's real responses (``tests/corpus/lab-responses.json``, made by
``scripts/capture-corpus``: HTTP, RTSP, ONVIF SOAP and WS-Discovery replies of
the demo, mixed and hostile fleets) and the documented example files.  Hypothesis
mutates them (truncation, byte flips, insertions, splices of two seeds,
repetition) and each parser must either return its typed result, with every
string bounded, or, for operator files, raise *our* error naming the file.  No
other exception escapes.  ``test_every_parser_is_in_the_matrix`` fails when a new
``parse_*`` in ``scanner/probes`` is not fuzzed here.  Examples are bounded
(``EXAMPLES`` each) so the suite stays fast; ``bench/fuzz_parsers.py`` runs the
same targets under atheris for longer.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from camsweep.audit.answers import parse_answers
from camsweep.config import parse_config
from db import imports
from fingerprints.errors import CamsweepError, ConfigError, ImportFileError
from scanner.probes import arp, http, mdns, onvif, rtsp, wsd

ROOT = Path(__file__).resolve().parents[2]
CORPUS = json.loads((ROOT / "tests" / "corpus" / "lab-responses.json").read_text(encoding="utf-8"))
EXAMPLES = 150


def seeds(*probes: str) -> list[bytes]:
    return [bytes.fromhex(e["raw"]) for e in CORPUS["responses"] if e["probe"] in probes]


def wsd_replies() -> list[bytes]:
    """Each WS-Discovery reply on its own (a seed is one probe round's replies, concatenated)."""
    return [b"<?xml" + r for s in seeds("wsd") for r in s.split(b"<?xml")[1:]]


def bodies(*probes: str) -> list[bytes]:
    """HTTP bodies of the seeds (an ONVIF seed holds two answers: time, then device information)."""
    out = []
    for raw in seeds(*probes):
        for part in raw.split(b"HTTP/1.1 ")[1:] if raw.startswith(b"HTTP/") else [raw]:
            banner = http.parse_response(b"HTTP/1.1 " + part)
            out.append(banner.body if banner is not None and banner.body else part)
    return out


@st.composite
def mutated(draw: st.DrawFn, pool: list[bytes]) -> bytes:
    """A seed, changed a few ways a broken or hostile device changes its answers."""
    data = bytearray(draw(st.sampled_from(pool)))
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["cut", "flip", "insert", "splice", "repeat", "delete"]))
        at = draw(st.integers(0, len(data)))
        if op == "cut":
            del data[at:]
        elif op == "flip" and data:
            i = min(at, len(data) - 1)
            data[i] = draw(st.integers(0, 255))
        elif op == "insert":
            data[at:at] = draw(
                st.sampled_from([b"\x00", b"\r\n", b"\r\n\r\n", b"<", b"&", b"]]>", b"\xff\xfe", b'"', b"%"])
                | st.binary(max_size=16)
            )
        elif op == "splice":
            other = draw(st.sampled_from(pool))
            data[at:] = other[draw(st.integers(0, len(other))) :]
        elif op == "repeat":
            end = draw(st.integers(at, min(len(data), at + 64)))
            data[at:at] = data[at:end] * draw(st.integers(1, 200))
        elif op == "delete":
            end = draw(st.integers(at, min(len(data), at + 64)))
            del data[at:end]
    return bytes(data)


def _strings(obj: Any) -> list[str]:
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, list | tuple):
        return [s for x in obj for s in _strings(x)]
    if hasattr(obj, "__dataclass_fields__"):
        return [s for name in obj.__dataclass_fields__ for s in _strings(getattr(obj, name))]
    return []


def _bounded(result: Any, limit: int = 4096) -> None:
    for s in _strings(result):
        assert len(s) <= limit, (len(s), s[:80])


# -- device bytes: parser -> (seed pool, string bound) -----------------------------------------


def _http(data: bytes) -> Any:
    banner = http.parse_response(data)
    http.response_complete(data)
    http.parse_certificate(data)
    http.favicon_hash(data)
    if banner is not None:
        # The probe bounds evidence when it records it (test_hostile_scan checks the stored
        # values); the parser itself must never produce more text than it was given.
        _bounded([banner.server, banner.realm, banner.title, banner.location, banner.auth_scheme], len(data))
        if banner.location:
            http.same_host_path(banner.location, "127.0.0.1", 80)
    return banner


def _rtsp(data: bytes) -> Any:
    rtsp.head_length(data)
    resp = rtsp.parse_response(data)
    if resp is not None:
        rtsp.parse_realm(data.decode("latin-1"))
        rtsp.parse_public(data.decode("latin-1"))
    rtsp.parse_sdp(data)
    return resp


def credentialed_onvif_replies() -> list[bytes]:
    """Replies to the credentialed ONVIF calls, from the lab's own document builders (the
    corpus holds only anonymous answers: its capture runs without credentials)."""
    from camsweep.lab import onvif as lab_onvif
    from camsweep.lab.fleet import load_fleet
    from camsweep.lab.state import DeviceState
    from tests.scanner.test_onvif_recorder import _answers as recorder_answers

    out = []
    for spec in load_fleet("demo", network="127.95.251.0/24").devices[:12]:
        state = DeviceState(spec)
        for doc in (
            lab_onvif.network_interfaces(state),
            lab_onvif.services(state, 80),
            lab_onvif.capabilities(state, 80),
        ):
            out.append(lab_onvif.envelope(doc))
    return out + list(recorder_answers("http://10.0.0.9").values())


def _onvif(data: bytes) -> Any:
    root = onvif.parse_xml(data)
    if root is not None:
        fault = onvif.parse_fault(root)
        if fault is not None:
            _bounded([fault.reason], 256)
        onvif.capabilities_from_namespaces(el.text or "" for el in root.iter())
    onvif.parse_system_date_and_time(data)
    info = onvif.parse_device_information(data)
    _bounded(info, 128)
    _bounded(onvif.parse_network_interfaces(data), 64)
    for services in (onvif.parse_services(data), onvif.parse_capabilities(data)):
        _bounded([s.xaddr for s in services or []], 512)
        onvif.xaddr_path(services[0].xaddr if services else data.decode("latin-1"))
    for token, uri in onvif.parse_receivers(data) or []:
        _bounded([onvif.channel_evidence(token, uri)], 512)
    onvif.strip_userinfo(data.decode("latin-1"))
    return info


def _wsd(data: bytes) -> Any:
    matches = wsd.parse_probe_matches(data)
    assert len(matches) <= wsd.MAX_MATCHES
    for m in matches:
        _bounded(m, 512)
        for kind in ("name", "hardware", "MAC", "location"):
            _bounded(m.scope_values(kind), 256)
    return matches


def _mdns(data: bytes) -> Any:
    pairs = {data[i : i + 8]: data[i + 8 : i + 40] or None for i in range(0, min(len(data), 4000), 40)}
    entries = mdns.parse_txt(pairs)
    _bounded(entries, 256)
    mdns.normalise_mac(data.decode("latin-1"))
    return mdns.MdnsService("_http._tcp.local.", "x", txt=entries).mac


def _arp(data: bytes) -> Any:
    text = data.decode("latin-1")
    pairs = [
        (text[i : i + 15] or None, text[i + 15 : i + 32] or None) for i in range(0, min(len(text), 640), 32)
    ]
    return arp.parse_replies(pairs)


DEVICE_PARSERS: dict[str, tuple[Callable[[bytes], Any], list[bytes]]] = {
    "http": (_http, seeds("http")),
    "http-body": (_http, seeds("http", "onvif")),
    "rtsp": (_rtsp, seeds("rtsp")),
    "onvif": (_onvif, bodies("onvif")),
    "onvif-as-wsd": (_onvif, bodies("wsd")),
    "onvif-credentialed": (_onvif, credentialed_onvif_replies()),
    "wsd": (_wsd, seeds("wsd") + wsd_replies()),
    "wsd-as-onvif": (_wsd, bodies("onvif")),
    "mdns": (_mdns, seeds("http", "wsd")),
    "arp": (_arp, seeds("http")),
}

#: Every parse_* of scanner/probes and where this matrix reaches it.
COVERED = {
    "arp.parse_replies": "arp",
    "http.parse_response": "http",
    "http.parse_certificate": "http",
    "rtsp.parse_response": "rtsp",
    "rtsp.parse_realm": "rtsp",
    "rtsp.parse_public": "rtsp",
    "rtsp.parse_sdp": "rtsp",
    "onvif.parse_xml": "onvif",
    "onvif.parse_fault": "onvif",
    "onvif.parse_system_date_and_time": "onvif",
    "onvif.parse_device_information": "onvif",
    "onvif.parse_network_interfaces": "onvif-credentialed",
    "onvif.parse_services": "onvif-credentialed",
    "onvif.parse_capabilities": "onvif-credentialed",
    "onvif.parse_receivers": "onvif-credentialed",
    "wsd.parse_probe_matches": "wsd",
    "mdns.parse_txt": "mdns",
}


def test_every_parser_is_in_the_matrix() -> None:
    found = {
        f"{mod.__name__.rsplit('.', 1)[1]}.{name}"
        for mod in (arp, http, mdns, onvif, rtsp, wsd)
        for name, fn in inspect.getmembers(mod, inspect.isfunction)
        if name.startswith("parse_") and fn.__module__ == mod.__name__
    }
    assert found == set(COVERED)
    assert all(len(pool) >= 5 for _fn, pool in DEVICE_PARSERS.values())  # real seeds, not an empty corpus


@pytest.mark.parametrize("name", sorted(DEVICE_PARSERS))
def test_device_parsers_never_raise_and_stay_bounded(name: str) -> None:
    parser, pool = DEVICE_PARSERS[name]

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(mutated(pool))
    def run(data: bytes) -> None:
        parser(data)

    run()


def test_seeds_parse_as_what_they_are() -> None:
    """The corpus is real: unmutated seeds give results (the matrix is not fuzzing noise only)."""
    assert sum(http.parse_response(s) is not None for s in seeds("http")) >= len(seeds("http")) // 2
    assert any(rtsp.parse_response(s) is not None for s in seeds("rtsp"))
    assert any(onvif.parse_system_date_and_time(b) is not None for b in bodies("onvif"))
    replies = credentialed_onvif_replies()
    for parser in (onvif.parse_network_interfaces, onvif.parse_services, onvif.parse_capabilities):
        assert any(parser(r) for r in replies), parser.__name__
    assert any(onvif.parse_receivers(r) for r in replies)
    assert any(wsd.parse_probe_matches(r) for r in wsd_replies())


# -- operator files: any change raises our error naming the file, never another exception --------

EXAMPLE_CONFIG = (ROOT / "examples" / "camsweep.toml").read_bytes()
EXAMPLE_ANSWERS = (ROOT / "examples" / "survey-answers.yaml").read_bytes()
NMAP_SEED = (
    b'<?xml version="1.0"?>\n<!DOCTYPE nmaprun>\n<nmaprun scanner="nmap" version="7.93" start="1700000000">\n'
    b"<host><status state='up'/><address addr='10.0.0.1' addrtype='ipv4'/>"
    b"<address addr='44:19:B6:00:00:01' addrtype='mac'/>\n<ports>\n<port protocol='tcp' portid='80'>"
    b"<state state='open'/><service name='http' product='App-webs'/>"
    b"<script id='http-server-header' output='App-webs/'><elem>App-webs/</elem></script>"
    b"<script id='http-title' output='x'><elem key='title'>Index</elem></script></port>\n"
    b"<port protocol='tcp' portid='554'><state state='open'/>"
    b"<script id='rtsp-methods' output='realm=&quot;IP Camera(12345)&quot;'/></port>\n</ports></host>\n</nmaprun>\n"
)
CSV_SEED = (
    b"site,mac,manufacturer,model,serial,ip,firmware,firmware_updated,location\n"
    b"hq,44:19:b6:00:00:01,Hikvision,DS-2CD2143G2-I,SN1,10.0.0.5,V5.7.3,2024-01-02,custody\n"
    b"hq,,Dahua,IPC-HFW,SN2,,V2.8,,yard\n"
)
JSON_SEED = (
    b'[\n{"ip": "10.0.0.1", "mac": "44:19:b6:00:00:01", "site": "hq", "connectivity": "networked",'
    b' "confidence": 0.9, "policy_flags": ["NDAA-889"], "first_seen": "2026-01-01T00:00:00Z"},\n'
    b'{"ip": "10.0.0.2", "site": "hq", "connectivity": "standalone", "is_camera": true}\n]\n'
)

FILE_PARSERS: dict[str, tuple[bytes, str, Callable[[Path], Any], type[CamsweepError]]] = {
    "config": (EXAMPLE_CONFIG, "camsweep.toml", lambda p: parse_config(p.read_bytes().decode("utf-8", "replace"), p), ConfigError),
    "answers": (EXAMPLE_ANSWERS, "answers.yaml", lambda p: parse_answers(p.read_bytes().decode("utf-8", "replace"), str(p)), ConfigError),
    "nmap-xml": (NMAP_SEED, "scan.xml", imports.parse_nmap_xml, ImportFileError),
    "standalone-csv": (CSV_SEED, "units.csv", imports.parse_standalone_csv, ImportFileError),
    "json": (JSON_SEED, "export.json", imports.parse_inventory_json, ImportFileError),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(FILE_PARSERS))
def test_operator_files_load_or_raise_our_error_naming_the_file(name: str, tmp_path: Path) -> None:
    seed, filename, parse, error = FILE_PARSERS[name]
    path = tmp_path / filename
    parse_ok = parse
    path.write_bytes(seed)
    parse_ok(path)  # the seed itself is valid

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(mutated([seed]))
    def run(data: bytes) -> None:
        path.write_bytes(data)
        try:
            parse(path)
        except error as exc:
            assert str(path) in str(exc), str(exc)

    run()


# -- regressions found by bench/fuzz_parsers.py (atheris) -----------------------------------------


def test_unknown_xml_encoding_is_not_xml() -> None:
    # defusedxml raised LookupError for encoding="UTF-4" (it escaped parse_xml).
    doc = b'<?xml version="1.0" encoding="UTF-4"?><s:Envelope xmlns:s="urn:x"><s:Body/></s:Envelope>'
    assert onvif.parse_xml(doc) is None
    assert onvif.parse_device_information(doc) is None
    assert wsd.parse_probe_matches(doc) == []


def test_nmap_start_time_out_of_range_is_named(tmp_path: Path) -> None:
    # datetime.fromtimestamp raised ValueError/OverflowError/OSError for absurd start times.
    for start in ("55894000000000", "9" * 30):
        path = tmp_path / "scan.xml"
        path.write_bytes(NMAP_SEED.replace(b'start="1700000000"', f'start="{start}"'.encode()))
        with pytest.raises(ImportFileError, match=r"scan.xml:3: field 'start'"):
            imports.parse_nmap_xml(path)
