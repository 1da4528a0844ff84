"""Certificates for tests of the station's PKI (and for integrators trying a CA-based setup): a CA, client
certificates it issues, and its revocation lists, made offline with ``cryptography``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Ca:
    cert: x509.Certificate
    key: rsa.RSAPrivateKey

    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def make_ca(name: str = "Line CA", issuer: Ca | None = None) -> Ca:
    """A CA (self-signed, or issued by ``issuer`` as an intermediate)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - _DAY)
        .not_valid_after(_now() + 365 * _DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    )
    cert = builder.sign(issuer.key if issuer else key, hashes.SHA256())
    return Ca(cert, key)


def issue_client(
    ca: Ca,
    cert_path: Path,
    key_path: Path,
    application_uri: str,
    name: str = "client",
    valid_days: int = 365,
    not_before_days: int = -1,
) -> x509.Certificate:
    """A client application certificate issued by ``ca`` (DER at ``cert_path``, PEM key at ``key_path``)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    start = _now() + not_before_days * _DAY
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + valid_days * _DAY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, True, True, True, False, False, False, False, False), critical=True
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.UniformResourceIdentifier(application_uri), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .sign(ca.key, hashes.SHA256())
    )
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.DER))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return cert


def make_crl(ca: Ca, revoked: list[x509.Certificate], path: Path) -> None:
    """``ca``'s revocation list naming ``revoked``, written as DER to ``path``."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.cert.subject)
        .last_update(_now() - _DAY)
        .next_update(_now() + 30 * _DAY)
    )
    for cert in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(cert.serial_number)
            .revocation_date(_now() - _DAY)
            .build()
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(builder.sign(ca.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER))
