"""``inspect-app opcua gen-cert``: the station's application certificate and key, made offline.

Self-signed, RSA 2048, SHA-256, with the application URI and the host name(s) in subjectAltName (OPC UA
clients check both), the key usages OPC UA requires, and both server and client authentication (the station is
a server, and a client in client mode). The key file is written 0600. PLCs and MES clients must trust the
certificate (copy the .der to their trust list); the station's own trust list is ``[opcua] trust_dir``.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path

from asyncua.crypto.cert_gen import (
    dump_private_key_as_pem,
    generate_private_key,
    generate_self_signed_app_certificate,
)
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID


def generate_certificate(
    cert_path: Path,
    key_path: Path,
    application_uri: str,
    hostnames: list[str] | None = None,
    common_name: str = "inspect-app station",
    days: int = 3650,
    client_only: bool = False,
) -> x509.Certificate:
    """Write ``cert_path`` (DER) and ``key_path`` (PEM, 0600); returns the certificate."""
    names = hostnames or [socket.gethostname()]
    alt: list[x509.GeneralName] = [x509.UniformResourceIdentifier(application_uri)]
    for name in names:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt.append(x509.DNSName(name))
    uses = (
        [ExtendedKeyUsageOID.CLIENT_AUTH]
        if client_only
        else [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    )
    key = generate_private_key()
    cert = generate_self_signed_app_certificate(key, common_name, {}, alt, uses, days=days)
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    key_path.parent.mkdir(parents=True, exist_ok=True)
    cert_path.write_bytes(cert.public_bytes(Encoding.DER))
    # the key never exists world-readable, not even for a moment
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(dump_private_key_as_pem(key))
    return cert


def describe(cert: x509.Certificate) -> str:
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    parts = [str(v) for v in san.get_values_for_type(x509.UniformResourceIdentifier)]
    parts += san.get_values_for_type(x509.DNSName) + [
        str(ip) for ip in san.get_values_for_type(x509.IPAddress)
    ]
    return (
        f"subject {cert.subject.rfc4514_string()}; subjectAltName {', '.join(parts)}; "
        f"valid until {cert.not_valid_after_utc:%Y-%m-%d}"
    )


def load_certificate_file(path: Path) -> x509.Certificate:
    """A certificate from a DER or PEM file (OPC UA tools hand out both)."""
    data = path.read_bytes()
    if data.lstrip().startswith(b"-----BEGIN"):
        return x509.load_pem_x509_certificate(data)
    return x509.load_der_x509_certificate(data)


def application_uri_of(cert: x509.Certificate) -> str | None:
    """The application URI an OPC UA certificate carries in subjectAltName (a peer checks it against the
    ApplicationUri the application announces), or None."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    uris = san.get_values_for_type(x509.UniformResourceIdentifier)
    return uris[0] if uris else None
