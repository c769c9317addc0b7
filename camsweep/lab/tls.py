"""Self-signed (or lab-CA-signed) certificates whose subject is the real vendor's.

A camera's TLS certificate subject is evidence (Recog ``x509_subjects.xml``):
``CN=www.hikvision.com,OU=DVRNVR,O=HIKVISION,...``, ``CN=axis-<mac>,O=Axis
Communications AB``, issuer ``Dahua Device NVR CA``.  The lab makes such
certificates at start with ``cryptography``: one RSA key for the whole lab and
one certificate per distinct subject, both cached on disk so start-up stays
fast (``$CAMSWEEP_LAB_CACHE``, else ``~/.cache/camsweep-lab``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import ssl
from functools import lru_cache
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from fingerprints.errors import LabError

_ATTRS = {
    "CN": NameOID.COMMON_NAME,
    "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "O": NameOID.ORGANIZATION_NAME,
    "L": NameOID.LOCALITY_NAME,
    "ST": NameOID.STATE_OR_PROVINCE_NAME,
    "C": NameOID.COUNTRY_NAME,
    "SERIALNUMBER": NameOID.SERIAL_NUMBER,
    "EMAIL": NameOID.EMAIL_ADDRESS,
}


def cache_dir() -> Path:
    base = os.environ.get("CAMSWEEP_LAB_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "camsweep-lab"
    )
    path = Path(base)
    path.mkdir(parents=True, exist_ok=True)
    return path


def parse_name(text: str) -> x509.Name:
    """``CN=a,O=b`` (RFC 4514 order as written: most specific first) -> x509 Name."""
    attrs = []
    # Split only at commas that start a new KEY= (so "O=Zhejiang Dahua Technology Co.,Ltd." stays whole).
    for part in [p for p in re.split(r",(?=\s*[A-Za-z]+=)", text) if p.strip()]:
        key, sep, value = part.partition("=")
        if not sep or key.strip().upper() not in _ATTRS:
            raise LabError(f"certificate name {text!r}: cannot read {part!r}")
        attrs.append(x509.NameAttribute(_ATTRS[key.strip().upper()], value.strip()))
    return x509.Name(list(reversed(attrs)))


@lru_cache(maxsize=1)
def _key() -> rsa.RSAPrivateKey:
    """The lab's one RSA key, made once and shared by every lab process on this machine.

    Several labs may start at once (parallel test runs): the first to ``link`` its key into
    place wins and the others load that one, so a cached certificate always matches the key.
    """
    path = cache_dir() / "lab-key.pem"
    if not path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
        )
        os.chmod(tmp, 0o600)
        try:
            os.link(tmp, path)  # atomic, and fails if another process got there first
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise LabError(f"{path} is not an RSA key: delete it and the lab makes a new one")
    return loaded


def _key_id(key: rsa.RSAPrivateKey) -> str:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()[:12]


def certificate_files(subject: str, issuer: str | None = None) -> tuple[Path, Path]:
    """(cert chain PEM, key PEM) for ``subject``, signed as ``issuer`` (self-signed when None)."""
    key = _key()
    digest = hashlib.sha256(f"{subject}|{issuer}|{_key_id(key)}".encode()).hexdigest()[:24]
    cert_path = cache_dir() / f"cert-{digest}.pem"
    key_path = cache_dir() / "lab-key.pem"
    if cert_path.exists():
        return cert_path, key_path
    now = dt.datetime.now(dt.UTC)
    issuer_name = parse_name(issuer) if issuer else parse_name(subject)
    cert = (
        x509.CertificateBuilder()
        .subject_name(parse_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(int(digest[:16], 16))
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    tmp = cert_path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    os.replace(tmp, cert_path)
    return cert_path, key_path


@lru_cache(maxsize=256)
def server_context(subject: str, issuer: str | None = None) -> ssl.SSLContext:
    cert, key = certificate_files(subject, issuer)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx
