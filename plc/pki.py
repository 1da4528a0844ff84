"""The station's OPC UA certificate store: which client certificates it trusts, read from a folder that an
engineer edits while the station runs.

Layout (OPC UA Part 12, as UA-.NET, open62541 and node-opcua use it), under ``[opcua] trust_dir``::

    trusted/certs/   client certificates (or CAs) trusted outright
    trusted/crl/     revocation lists of the CAs in trusted/certs
    issuers/certs/   CAs needed to build a chain, not trusted on their own
    issuers/crl/     their revocation lists
    rejected/certs/  certificates the station refused; move one to trusted/certs/ to trust it

Certificates (DER or PEM) lying directly in ``trust_dir`` are trusted too: the flat layout of earlier
versions keeps working. The folders are re-read when anything in them changes (checked at each new channel
and every second while sessions run), so a certificate removed from ``trusted/certs`` or revoked by a new CRL
is refused without a restart.

A certificate is trusted when it is itself in ``trusted/certs``, or when its chain (through ``issuers/certs``
and ``trusted/certs``) reaches a CA in ``trusted/certs``. Every CA-issued certificate in the chain needs a
valid CRL from its issuer (``BadCertificateRevocationUnknown`` without one), except a leaf trusted outright
whose issuer is not in the store (the engineer trusted that very certificate).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

log = logging.getLogger(__name__)

SUBDIRS = ("trusted/certs", "trusted/crl", "issuers/certs", "issuers/crl", "rejected/certs")
_CERT_FILE = re.compile(r".*\.(der|pem|crt|cer)$", re.IGNORECASE)
_CRL_FILE = re.compile(r".*\.(der|pem|crl)$", re.IGNORECASE)
_MAX_CHAIN = 6
_DER = Encoding.DER
_SHA1 = hashes.SHA1()  # the thumbprint OPC UA uses in file names and headers, not a security function


def leaf_der(blob: bytes) -> bytes:
    """The first certificate of a DER chain (OPC UA sends chains as concatenated DER certificates)."""
    if len(blob) < 2 or blob[0] != 0x30:
        return blob
    first = blob[1]
    if first < 0x80:
        end = 2 + first
    else:
        n = first & 0x7F
        if n == 0 or n > 4 or len(blob) < 2 + n:
            return blob
        end = 2 + n + int.from_bytes(blob[2 : 2 + n], "big")
    return blob[:end]


def _load_cert(data: bytes) -> x509.Certificate:
    if data.lstrip().startswith(b"-----BEGIN"):
        return x509.load_pem_x509_certificate(data)
    return x509.load_der_x509_certificate(leaf_der(data))


def _load_crl(data: bytes) -> x509.CertificateRevocationList:
    if data.lstrip().startswith(b"-----BEGIN"):
        return x509.load_pem_x509_crl(data)
    return x509.load_der_x509_crl(data)


def _common_name(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else cert.subject.rfc4514_string()


def describe_cert(cert: x509.Certificate) -> str:
    return f"{_common_name(cert)!r} (sha1 {cert.fingerprint(_SHA1).hex()[:16]})"


@dataclass
class _Contents:
    trusted: dict[bytes, x509.Certificate] = field(default_factory=dict)  # DER -> certificate
    issuers: list[x509.Certificate] = field(default_factory=list)  # trusted and untrusted CAs
    crls: list[x509.CertificateRevocationList] = field(default_factory=list)


class PkiStore:
    """``check`` answers with an OPC UA status code name (``"BadCertificateUntrusted"``, ...) or None when
    the certificate is acceptable for a client; ``reject`` files a refused certificate under rejected/."""

    def __init__(
        self,
        root: Path,
        *,
        max_rejected: int = 100,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.root = root
        self.max_rejected = max_rejected
        self._clock = clock
        for sub in SUBDIRS:
            (root / sub).mkdir(parents=True, exist_ok=True)
        self._signature: tuple = ()
        self._contents = _Contents()
        self.generation = 0  # + 1 at every re-read: what was checked against an older one is checked again
        self.refresh()

    # ------------------------------------------------------------------ loading
    def _files(self, sub: str, pattern: re.Pattern[str]) -> list[os.DirEntry[str]]:
        folder = self.root / sub if sub else self.root
        try:
            with os.scandir(folder) as it:
                return sorted((e for e in it if e.is_file() and pattern.match(e.name)), key=lambda e: e.name)
        except FileNotFoundError:
            return []

    def _current_signature(self) -> tuple:
        sig = []
        for sub, pattern in (
            ("", _CERT_FILE),
            ("trusted/certs", _CERT_FILE),
            ("issuers/certs", _CERT_FILE),
            ("trusted/crl", _CRL_FILE),
            ("issuers/crl", _CRL_FILE),
        ):
            for e in self._files(sub, pattern):
                st = e.stat()
                sig.append((sub, e.name, st.st_mtime_ns, st.st_size))
        return tuple(sig)

    def refresh(self) -> bool:
        """Re-read the folders if anything in them changed; True when they were re-read."""
        signature = self._current_signature()
        if signature == self._signature:
            return False
        contents = _Contents()
        for sub in ("", "trusted/certs", "issuers/certs"):
            for e in self._files(sub, _CERT_FILE):
                try:
                    cert = _load_cert(Path(e.path).read_bytes())
                except (OSError, ValueError) as exc:
                    log.warning("OPC UA PKI: %s is not a certificate, ignored: %s", e.path, exc)
                    continue
                if sub != "issuers/certs":
                    contents.trusted[cert.public_bytes(_DER)] = cert
                if _is_ca(cert):
                    contents.issuers.append(cert)
        for sub in ("trusted/crl", "issuers/crl"):
            for e in self._files(sub, _CRL_FILE):
                try:
                    contents.crls.append(_load_crl(Path(e.path).read_bytes()))
                except (OSError, ValueError) as exc:
                    log.warning("OPC UA PKI: %s is not a CRL, ignored: %s", e.path, exc)
        changed = bool(self._signature)
        self._signature, self._contents = signature, contents
        self.generation += 1
        if changed:
            log.info(
                "OPC UA PKI %s re-read: %d trusted certificate(s), %d CA(s), %d CRL(s)",
                self.root,
                len(contents.trusted),
                len(contents.issuers),
                len(contents.crls),
            )
        return True

    # ------------------------------------------------------------------ checks
    def check(self, der: bytes, application_uri: str | None = None) -> str | None:
        """A client application certificate: parsable, valid now, with the client's key usages, (when
        ``application_uri`` is given) that URI in subjectAltName, trusted, and not revoked."""
        try:
            cert = _load_cert(der)
        except ValueError:
            return "BadCertificateInvalid"
        now = self._clock()
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            return "BadCertificateTimeInvalid"
        try:
            usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
            eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound:
            return "BadCertificateInvalid"
        if not (usage.digital_signature and usage.key_encipherment and usage.data_encipherment):
            return "BadCertificateUseNotAllowed"
        if ExtendedKeyUsageOID.CLIENT_AUTH not in eku:
            return "BadCertificateUseNotAllowed"
        if application_uri is not None and application_uri not in san.get_values_for_type(
            x509.UniformResourceIdentifier
        ):
            return "BadCertificateUriInvalid"
        return self._trust(cert, now)

    def _trust(self, leaf: x509.Certificate, now: datetime) -> str | None:
        c = self._contents
        trusted_outright = leaf.public_bytes(_DER) in c.trusted
        chain = [leaf]
        cert = leaf
        while not _self_signed(cert) and len(chain) < _MAX_CHAIN:
            issuer = self._issuer_of(cert)
            if issuer is None:
                if trusted_outright:
                    return None  # a CA-issued certificate trusted by itself, its CA not in the store
                return "BadCertificateChainIncomplete" if c.trusted else "BadCertificateUntrusted"
            chain.append(issuer)
            cert = issuer
        anchored = trusted_outright or any(x.public_bytes(_DER) in c.trusted for x in chain[1:])
        if not anchored:
            return "BadCertificateUntrusted"
        for i, ca in enumerate(chain[1:], start=1):
            if not ca.not_valid_before_utc <= now <= ca.not_valid_after_utc:
                return "BadCertificateIssuerTimeInvalid"
            status = self._revocation(chain[i - 1], ca, now)
            if status is not None:
                return status if i == 1 else status.replace("BadCertificate", "BadCertificateIssuer")
        return None

    def _issuer_of(self, cert: x509.Certificate) -> x509.Certificate | None:
        for ca in self._contents.issuers:
            if ca.subject == cert.issuer:
                try:
                    cert.verify_directly_issued_by(ca)
                except (ValueError, TypeError, InvalidSignature):
                    continue
                return ca
        return None

    def _revocation(self, cert: x509.Certificate, ca: x509.Certificate, now: datetime) -> str | None:
        lists = [
            crl
            for crl in self._contents.crls
            if crl.issuer == ca.subject and crl.is_signature_valid(ca.public_key())  # type: ignore[arg-type]
        ]
        if not lists:
            return "BadCertificateRevocationUnknown"
        for crl in lists:
            if crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None:
                return "BadCertificateRevoked"
        return None

    # ------------------------------------------------------------------ rejected/
    def reject(self, der: bytes) -> Path | None:
        """File a refused client certificate as ``rejected/certs/<CN> [<sha1>].der`` (the Part 12 naming)
        so that an engineer can trust it with a move. At most ``max_rejected`` files are kept: a client
        presenting a new certificate at every attempt cannot fill the disk."""
        try:
            cert = _load_cert(der)
        except ValueError:
            return None
        cn = re.sub(r"[^A-Za-z0-9 ._-]", "_", _common_name(cert))[:64] or "certificate"
        folder = self.root / "rejected/certs"
        path = folder / f"{cn} [{cert.fingerprint(_SHA1).hex()}].der"
        if path.exists():
            return path
        try:
            folder.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(cert.public_bytes(_DER))
            tmp.replace(path)
            files = sorted(folder.glob("*.der"), key=lambda p: p.stat().st_mtime_ns)
            for old in files[: max(0, len(files) - self.max_rejected)]:
                old.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("OPC UA PKI: cannot file the rejected certificate in %s: %s", folder, exc)
            return None
        return path


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _self_signed(cert: x509.Certificate) -> bool:
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True
