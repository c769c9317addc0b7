"""mDNS TXT and ARP reply parsing: examples and fuzz (the live paths run in test_netns_discovery)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.probes.arp import parse_replies
from scanner.probes.mdns import MdnsService, normalise_mac, parse_txt, to_observations


def test_axis_txt_and_mac() -> None:
    # Axis announces _axis-video._tcp with TXT macaddress=ACCC8E... (fingerprint-facts C.0).
    txt = parse_txt({b"macaddress": b"ACCC8E000001", b"flag": None})
    assert txt == ["macaddress=ACCC8E000001", "flag"]
    svc = MdnsService("_axis-video._tcp.local.", "AXIS M3045-V", ["10.0.0.7"], 80, txt)
    assert svc.mac == "ac:cc:8e:00:00:01"
    obs = to_observations([svc], lambda ip: ip.startswith("10."))
    assert next((e.key, e.value) for e in obs["10.0.0.7"].evidence) == (
        "mdns.service",
        "_axis-video._tcp.local. AXIS M3045-V",
    )
    assert to_observations([svc], lambda ip: False) == {}


def test_normalise_mac() -> None:
    assert normalise_mac("AC-CC-8E-00-00-01") == "ac:cc:8e:00:00:01"
    assert normalise_mac("accc.8e00.0001") == "ac:cc:8e:00:00:01"
    assert normalise_mac("not a mac") is None


def test_arp_replies_validated_and_deduplicated() -> None:
    got = parse_replies(
        [
            ("10.0.0.5", "C0:56:E3:00:00:01"),
            ("10.0.0.5", "c0:56:e3:00:00:02"),
            ("bogus", "c0:56:e3:00:00:03"),
            ("10.0.0.6", "ff:ff:ff:ff:ff:ff"),
            (None, None),
        ]
    )
    assert [(r.ip, r.mac) for r in got] == [("10.0.0.5", "c0:56:e3:00:00:01")]


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.binary(max_size=40), st.one_of(st.none(), st.binary(max_size=300)), max_size=40))
def test_txt_never_raises_and_is_bounded(props: dict[bytes, bytes | None]) -> None:
    out = parse_txt(props)
    assert len(out) <= 32 and all(len(e) <= 256 for e in out)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.one_of(st.none(), st.text(max_size=20)), st.one_of(st.none(), st.text(max_size=20))),
        max_size=20,
    )
)
def test_arp_parser_never_raises(pairs: list[tuple[str | None, str | None]]) -> None:
    for r in parse_replies(pairs):
        assert normalise_mac(r.mac) == r.mac
