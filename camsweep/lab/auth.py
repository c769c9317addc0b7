"""Server-side checks of the credentials a client sends: HTTP Basic/Digest (RFC 7617/7616) and
ONVIF's WS-UsernameToken (OASIS WSS UsernameToken Profile 1.0, PasswordDigest).

The lab really enforces authentication, so probes are tested against a device
that refuses wrong credentials as a camera does.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets

_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


def challenge(scheme: str, realm: str, extra: str = "") -> str:
    """The ``WWW-Authenticate`` value for a 401."""
    if scheme.lower() == "basic":
        return f'Basic realm="{realm}"'
    nonce = secrets.token_hex(16)
    return f'Digest realm="{realm}", qop="auth", nonce="{nonce}"{extra}'


def parse_params(text: str) -> dict[str, str]:
    return {
        m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
        for m in _PARAM.finditer(text)
    }


def _hash(algorithm: str, text: str) -> str:
    name = "sha256" if algorithm.upper().startswith("SHA-256") else "md5"
    return hashlib.new(name, text.encode("utf-8")).hexdigest()


def check_authorization(header: str | None, method: str, user: str, password: str, realm: str) -> bool:
    """True when an ``Authorization`` header proves ``user``/``password`` (Basic or Digest)."""
    if not header:
        return False
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() == "basic":
        try:
            got = base64.b64decode(rest.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return secrets.compare_digest(got, f"{user}:{password}")
    if scheme.lower() != "digest":
        return False
    p = parse_params(rest)
    if p.get("username") != user or p.get("realm") != realm or "nonce" not in p or "response" not in p:
        return False
    algorithm = p.get("algorithm", "MD5")
    ha1 = _hash(algorithm, f"{user}:{realm}:{password}")
    ha2 = _hash(algorithm, f"{method}:{p.get('uri', '')}")
    if p.get("qop"):
        expected = _hash(
            algorithm, f"{ha1}:{p['nonce']}:{p.get('nc', '')}:{p.get('cnonce', '')}:{p['qop']}:{ha2}"
        )
    else:
        expected = _hash(algorithm, f"{ha1}:{p['nonce']}:{ha2}")
    return secrets.compare_digest(expected, p["response"].lower())


def check_username_token(
    username: str | None,
    password: str | None,
    nonce_b64: str | None,
    created: str | None,
    user: str,
    secret: str,
    digest: bool,
) -> bool:
    """WS-Security UsernameToken: ``Password = Base64(SHA-1(nonce + created + password))`` or plain text."""
    if username != user or password is None:
        return False
    if not digest:
        return secrets.compare_digest(password, secret)
    try:
        nonce = base64.b64decode(nonce_b64 or "", validate=True)
    except binascii.Error:
        return False
    expected = base64.b64encode(
        hashlib.sha1(nonce + (created or "").encode() + secret.encode()).digest()
    ).decode()
    return secrets.compare_digest(expected, password.strip())
