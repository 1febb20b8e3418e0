"""TLS for the server: a self-signed certificate in one call, and checks of a PEM pair before serving.

Azkaban needs a Java keystore made with ``openssl`` and ``keytool``; here ``sudoless cert`` writes a PEM
certificate and key under ``SUDOLESS_HOME/tls/`` (the key 0600, created with that mode), valid for the
host names given plus ``localhost``, ``127.0.0.1`` and ``::1``. Any existing PEM pair works as well.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import secrets
import ssl
from collections.abc import Iterable
from pathlib import Path

from sudoless.errors import InputError

__all__ = ["check_pair", "default_paths", "make_self_signed"]

LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")
VALID_DAYS = 825  # the longest validity browsers accept for a server certificate


def default_paths(home: Path) -> tuple[Path, Path]:
    return home / "tls" / "server.crt", home / "tls" / "server.key"


def make_self_signed(home: Path, hosts: Iterable[str] = (), overwrite: bool = True) -> tuple[Path, Path]:
    """Write a self-signed certificate and its RSA key under ``home/tls``; return (cert path, key path)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    cert_path, key_path = default_paths(home)
    if not overwrite and (cert_path.exists() or key_path.exists()):
        raise InputError(f"{cert_path} already exists; use --force to replace it")
    names = list(dict.fromkeys([h.strip() for h in hosts if h and h.strip()] + list(LOCAL_NAMES)))
    alt_names: list[x509.GeneralName] = []
    for name in names:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt_names.append(x509.DNSName(name))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, names[0]),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sudoless self-signed"),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    folder = key_path.parent
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    _write(key_path, key_pem, 0o600)
    _write(cert_path, cert_pem, 0o644)
    return cert_path, key_path


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to ``path`` atomically, the file having ``mode`` from its creation on."""
    scratch = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), mode)
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), mode)
            out.write(data)
        os.replace(scratch, path)
    finally:
        scratch.unlink(missing_ok=True)


def check_pair(cert: Path, key: Path) -> None:
    """Raise InputError unless ``cert`` and ``key`` are a PEM certificate and its private key."""
    for label, path in (("--cert", cert), ("--key", key)):
        if not path.is_file():
            raise InputError(f"{label} {path}: no such file; make one with 'sudoless cert'")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(str(cert), str(key))
    except (ssl.SSLError, OSError) as exc:
        raise InputError(f"--cert {cert} / --key {key}: not a PEM certificate and matching key ({exc})") from None
