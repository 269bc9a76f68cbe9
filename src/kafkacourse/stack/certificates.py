"""The course's certificate authority and the certificates of the secure profile, made with `cryptography`.

One folder (``<home>/stacks/secure/certs``) holds:

* ``ca.pem`` / ``ca-key.pem`` — the course CA (clients trust it: ``ssl.ca.location``),
* ``broker-keystore.pem`` — the broker's unencrypted PKCS#8 key, its certificate (CN=broker, SAN localhost)
  and the CA: what Kafka reads with ``ssl.keystore.type=PEM``,
* ``<name>.pem`` / ``<name>-key.pem`` — a client certificate (CN=<name>) for mTLS
  (``ssl.certificate.location`` / ``ssl.key.location``), and ``<name>-keystore.pem`` (key + certificate in one
  file, for Java clients such as kafka-acls.sh: ``ssl.keystore.type=PEM``).

Keys are unencrypted PKCS#8 (Kafka's PEM keystore refuses a SEC1 "EC PRIVATE KEY" and, on Java 17, encrypted
PKCS#8); names are ``localhost`` (librdkafka does not check IP SANs). Demo material for loopback only.

>>> from kafkacourse.stack import certificates
>>> certificates.ensure(folder, clients=["carol"])          # idempotent
>>> certificates.issue(folder, "dave")                      # one more client certificate, signed by the CA
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALID_DAYS = 825


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _validity(builder: x509.CertificateBuilder, not_before: dt.datetime | None = None,
              not_after: dt.datetime | None = None) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.timezone.utc)
    return (builder.not_valid_before(not_before or now - dt.timedelta(minutes=5))
            .not_valid_after(not_after or now + dt.timedelta(days=VALID_DAYS)))


def make_ca(folder: Path, common_name: str = "Kafka course CA") -> None:
    """Write a new CA (ca.pem, ca-key.pem) into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (_validity(x509.CertificateBuilder())
            .subject_name(_name(common_name)).issuer_name(_name(common_name))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    (folder / "ca-key.pem").write_bytes(_key_pem(key))
    (folder / "ca.pem").write_bytes(_cert_pem(cert))


def _load_ca(folder: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert = x509.load_pem_x509_certificate((folder / "ca.pem").read_bytes())
    key = serialization.load_pem_private_key((folder / "ca-key.pem").read_bytes(), password=None)
    return cert, key  # type: ignore[return-value]


def _leaf(folder: Path, common_name: str, subject: x509.Name | None = None,
          dns_names: tuple[str, ...] = ("localhost",), not_before: dt.datetime | None = None,
          not_after: dt.datetime | None = None) -> tuple[bytes, bytes]:
    ca_cert, ca_key = _load_ca(folder)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (_validity(x509.CertificateBuilder(), not_before, not_after)
            .subject_name(subject or _name(common_name)).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in dns_names]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    return _key_pem(key), _cert_pem(cert)


def issue(folder: Path, common_name: str, *, into: Path | None = None, subject: x509.Name | None = None,
          dns_names: tuple[str, ...] = ("localhost",), not_before: dt.datetime | None = None,
          not_after: dt.datetime | None = None) -> tuple[Path, Path]:
    """A client certificate for `common_name`, signed by the CA in `folder`: (<name>.pem, <name>-key.pem).

    Written `into` another folder when given (a lesson's own certificates stay out of the course's folder);
    `subject` replaces the plain ``CN=<common_name>``; `dns_names` are its SANs (default ``localhost``);
    `not_before` / `not_after` (timezone-aware) its validity (default: 5 minutes ago until 825 days on).

    >>> certificates.issue(ca_folder, "old", into=tmp, not_after=dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1))
    """
    into = into or folder
    into.mkdir(parents=True, exist_ok=True)
    key, cert = _leaf(folder, common_name, subject, tuple(dns_names), not_before, not_after)
    key_file, cert_file = into / f"{common_name}-key.pem", into / f"{common_name}.pem"
    key_file.write_bytes(key)
    key_file.chmod(0o600)
    cert_file.write_bytes(cert)
    (into / f"{common_name}-keystore.pem").write_bytes(key + cert)
    return cert_file, key_file


def ensure(folder: Path, clients: list[str] | tuple[str, ...] = ()) -> Path:
    """Make whatever is missing in `folder`: the CA, the broker's keystore, a certificate per client."""
    if not (folder / "ca.pem").exists():
        make_ca(folder)
    if not (folder / "broker-keystore.pem").exists():
        key, cert = _leaf(folder, "broker")
        (folder / "broker-keystore.pem").write_bytes(key + cert + (folder / "ca.pem").read_bytes())
    for name in clients:
        if not (folder / f"{name}-keystore.pem").exists():
            issue(folder, name)
    return folder
