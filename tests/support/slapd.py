"""A real OpenLDAP server for the LDAP tests: Debian's slapd, started by the test as the test's own user on
free ports, with a generated configuration (``slapd -f``), a generated directory and a TLS certificate
signed by a CA the test makes.

The directory (suffix ``dc=example,dc=org``)::

    ou=people     alice, bob, carol (locked by the password policy: a disabled account), dave, erin
    ou=groups     sudoless-users  <- engineering <- devs <- alice     (groups in groups: two levels)
                  sudoless-users  <- carol, erin
                  sudoless-admins <- bob
                  interns         <- dave                            (in no allowed group)
    ou=services   the service account sudoless searches with

Every person's password is ``<name>-pw``. Without slapd the tests are skipped with the reason, and fail
under ``CI=true``.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from support.services import unavailable

SLAPD = "/usr/sbin/slapd"
SLAPADD = "/usr/sbin/slapadd"
SCHEMA = Path("/etc/ldap/schema")
MODULES = Path("/usr/lib/ldap")
SUFFIX = "dc=example,dc=org"
PEOPLE = f"ou=people,{SUFFIX}"
GROUPS = f"ou=groups,{SUFFIX}"
SERVICE = f"cn=sudoless,ou=services,{SUFFIX}"
PEOPLE_NAMES = ("alice", "bob", "carol", "dave", "erin")


@dataclass(frozen=True)
class Slapd:
    host: str
    port: int
    tls_port: int
    ca_file: Path
    other_ca_file: Path
    root_dn: str
    root_password: str
    service_password_file: Path
    folder: Path

    def dn(self, name: str) -> str:
        return f"uid={name},{PEOPLE}"

    def group_dn(self, name: str) -> str:
        return f"cn={name},{GROUPS}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _make_ca(folder: Path, name: str) -> tuple[object, object, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    path = folder / f"{name}.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert, path


def _server_certificate(folder: Path, ca_key: object, ca_cert: object) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_cert.subject)  # type: ignore[attr-defined]
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # type: ignore[arg-type]
    cert_path, key_path = folder / "server.pem", folder / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_path.chmod(0o600)
    return cert_path, key_path


def _ldif(service_password: str) -> str:
    def entry(dn: str, *lines: str) -> str:
        return "\n".join([f"dn: {dn}", *lines]) + "\n\n"

    text = entry(SUFFIX, "objectClass: dcObject", "objectClass: organization", "o: Example", "dc: example")
    for ou in ("people", "groups", "services", "policies"):
        text += entry(f"ou={ou},{SUFFIX}", "objectClass: organizationalUnit", f"ou: {ou}")
    text += entry(
        f"cn=default,ou=policies,{SUFFIX}",
        "objectClass: device",
        "objectClass: pwdPolicy",
        "cn: default",
        "pwdAttribute: userPassword",
        "pwdLockout: TRUE",
    )
    text += entry(
        SERVICE,
        "objectClass: organizationalRole",
        "objectClass: simpleSecurityObject",
        "cn: sudoless",
        f"userPassword: {service_password}",
    )
    for name in PEOPLE_NAMES:
        lines = [
            "objectClass: inetOrgPerson",
            f"uid: {name}",
            f"cn: {name.title()}",
            f"sn: {name.title()}",
            f"mail: {name}@example.org",
            f"userPassword: {name}-pw",
        ]
        if name == "carol":
            lines.append("pwdAccountLockedTime: 000001010000Z")  # locked for good: a disabled account
        text += entry(f"uid={name},{PEOPLE}", *lines)
    groups = {
        "devs": [f"uid=alice,{PEOPLE}"],
        "engineering": [f"cn=devs,{GROUPS}"],
        "sudoless-users": [f"cn=engineering,{GROUPS}", f"uid=carol,{PEOPLE}", f"uid=erin,{PEOPLE}"],
        "sudoless-admins": [f"uid=bob,{PEOPLE}"],
        "interns": [f"uid=dave,{PEOPLE}"],
    }
    for name, members in groups.items():
        text += entry(
            f"cn={name},{GROUPS}", "objectClass: groupOfNames", f"cn: {name}", *(f"member: {m}" for m in members)
        )
    return text


def _config(folder: Path, cert: Path, key: Path, ca: Path, root_dn: str, root_password: str) -> str:
    schemas = "\n".join(f"include {SCHEMA / name}.schema" for name in ("core", "cosine", "inetorgperson", "nis"))
    return f"""{schemas}
modulepath {MODULES}
moduleload back_mdb
moduleload ppolicy
moduleload memberof
pidfile {folder / "slapd.pid"}
argsfile {folder / "slapd.args"}
TLSCACertificateFile {ca}
TLSCertificateFile {cert}
TLSCertificateKeyFile {key}
database mdb
maxsize 33554432
suffix "{SUFFIX}"
rootdn "{root_dn}"
rootpw {root_password}
directory {folder / "db"}
overlay memberof
overlay ppolicy
ppolicy_default "cn=default,ou=policies,{SUFFIX}"
access to attrs=userPassword by anonymous auth by self write by * none
access to * by * read
"""


@contextmanager
def running_slapd(folder: Path) -> Iterator[Slapd]:
    """Start slapd in ``folder`` (see the module docstring); stopped and its files left for the test's tmp."""
    for tool in (SLAPD, SLAPADD):
        if not os.access(tool, os.X_OK):
            unavailable(f"{tool} is not installed (Debian: apt-get install slapd ldap-utils)")
    if not (SCHEMA / "core.schema").is_file() or not (MODULES / "back_mdb.la").exists():
        unavailable(f"slapd's schema ({SCHEMA}) or modules ({MODULES}) are missing")
    try:
        import cryptography  # noqa: F401
    except ImportError:
        unavailable("the LDAP tests make their TLS certificate with cryptography (pip install 'sudoless[tls]')")
    (folder / "db").mkdir(parents=True)
    ca_key, ca_cert, ca_file = _make_ca(folder, "test-ca")
    _, _, other_ca = _make_ca(folder, "other-ca")
    cert, key = _server_certificate(folder, ca_key, ca_cert)
    root_dn, root_password = f"cn=admin,{SUFFIX}", secrets.token_hex(12)
    service_password = secrets.token_hex(12)
    password_file = folder / "service-password"
    password_file.write_text(service_password + "\n")
    password_file.chmod(0o600)
    conf = folder / "slapd.conf"
    conf.write_text(_config(folder, cert, key, ca_file, root_dn, root_password))
    data = folder / "directory.ldif"
    data.write_text(_ldif(service_password))
    added = subprocess.run(
        [SLAPADD, "-f", str(conf), "-l", str(data)], capture_output=True, text=True, timeout=60, check=False
    )
    assert added.returncode == 0, f"slapadd failed:\n{added.stderr}"
    port, tls_port = _free_port(), _free_port()
    log = (folder / "slapd.log").open("w")
    process = subprocess.Popen(
        [SLAPD, "-f", str(conf), "-d", "0", "-h", f"ldap://127.0.0.1:{port}/ ldaps://127.0.0.1:{tls_port}/"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("slapd did not start:\n" + (folder / "slapd.log").read_text()) from None
                time.sleep(0.05)
        yield Slapd(
            host="localhost",
            port=port,
            tls_port=tls_port,
            ca_file=ca_file,
            other_ca_file=other_ca,
            root_dn=root_dn,
            root_password=root_password,
            service_password_file=password_file,
            folder=folder,
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
