"""The station's certificate store (plc.pki) on real files: the Part 12 layout, CAs and CRLs, changes picked
up without a new store, rejected certificates filed for an engineer to trust."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from plc.certs import generate_certificate
from plc.pki import SUBDIRS, PkiStore, leaf_der
from plc.testing import CLIENT_URI
from plc.testing_pki import Ca, issue_client, make_ca, make_crl


@pytest.fixture(scope="module")
def ca() -> Ca:
    return make_ca("Test Line CA")


def _self_signed(tmp: Path, name: str, uri: str = CLIENT_URI, **kw: object) -> bytes:
    generate_certificate(tmp / f"{name}.der", tmp / f"{name}.pem", uri, ["localhost"], **kw)  # type: ignore[arg-type]
    return (tmp / f"{name}.der").read_bytes()


def test_layout_is_made_and_a_trusted_certificate_is_accepted_others_untrusted(tmp_path: Path) -> None:
    good, other = (
        _self_signed(tmp_path, "good", client_only=True),
        _self_signed(tmp_path, "other", client_only=True),
    )
    pki_root = tmp_path / "pki"
    store = PkiStore(pki_root)
    assert all((pki_root / sub).is_dir() for sub in SUBDIRS)
    assert store.check(good) == "BadCertificateUntrusted"
    shutil.copy(tmp_path / "good.der", pki_root / "trusted/certs/good.der")
    store.refresh()
    assert store.check(good) is None
    assert store.check(good, CLIENT_URI) is None
    assert store.check(good, "urn:someone-else") == "BadCertificateUriInvalid"
    assert store.check(other) == "BadCertificateUntrusted"
    assert store.check(b"\x30\x03not a certificate") == "BadCertificateInvalid"


def test_flat_layout_of_earlier_versions_still_trusts(tmp_path: Path) -> None:
    good = _self_signed(tmp_path, "good", client_only=True)
    (tmp_path / "flat").mkdir()
    shutil.copy(tmp_path / "good.der", tmp_path / "flat/good.der")
    assert PkiStore(tmp_path / "flat").check(good) is None


def test_removal_from_trusted_is_seen_without_a_new_store(tmp_path: Path) -> None:
    good = _self_signed(tmp_path, "good", client_only=True)
    store = PkiStore(tmp_path / "pki")
    trusted = tmp_path / "pki/trusted/certs/good.der"
    shutil.copy(tmp_path / "good.der", trusted)
    assert store.refresh() and store.check(good) is None
    generation = store.generation
    assert not store.refresh() and store.generation == generation  # nothing changed: nothing re-read
    trusted.unlink()
    assert store.refresh() and store.generation == generation + 1
    assert store.check(good) == "BadCertificateUntrusted"


def test_server_only_expired_and_not_yet_valid_certificates_are_refused(tmp_path: Path) -> None:
    server_only = _self_signed(tmp_path, "srv")  # both server and client auth: a client may use it
    store = PkiStore(tmp_path / "pki")
    shutil.copy(tmp_path / "srv.der", tmp_path / "pki/trusted/certs/srv.der")
    store.refresh()
    assert store.check(server_only) is None
    later = PkiStore(tmp_path / "pki", clock=lambda: datetime.now(UTC) + timedelta(days=4000))
    assert later.check(server_only) == "BadCertificateTimeInvalid"
    earlier = PkiStore(tmp_path / "pki", clock=lambda: datetime.now(UTC) - timedelta(days=3))
    assert earlier.check(server_only) == "BadCertificateTimeInvalid"


def test_ca_in_trusted_trusts_what_it_issued_with_a_crl_and_revocation_is_seen(
    ca: Ca, tmp_path: Path
) -> None:
    root = tmp_path / "pki"
    store = PkiStore(root)
    a = issue_client(ca, tmp_path / "a.der", tmp_path / "a.pem", CLIENT_URI, "client-a")
    b = issue_client(ca, tmp_path / "b.der", tmp_path / "b.pem", CLIENT_URI, "client-b")
    der_a, der_b = (tmp_path / "a.der").read_bytes(), (tmp_path / "b.der").read_bytes()
    (root / "trusted/certs/ca.der").write_bytes(ca.der())
    store.refresh()
    # a CA without its revocation list: nobody can tell whether its certificates were revoked
    assert store.check(der_a) == "BadCertificateRevocationUnknown"
    make_crl(ca, [], root / "trusted/crl/ca.crl")
    store.refresh()
    assert store.check(der_a) is None and store.check(der_b) is None
    make_crl(ca, [b], root / "trusted/crl/ca.crl")  # a new list, same file: picked up by its change
    store.refresh()
    assert store.check(der_a) is None
    assert store.check(der_b) == "BadCertificateRevoked"
    assert a.serial_number != b.serial_number


def test_ca_in_issuers_only_builds_the_chain_and_does_not_trust(ca: Ca, tmp_path: Path) -> None:
    root = tmp_path / "pki"
    store = PkiStore(root)
    issue_client(ca, tmp_path / "a.der", tmp_path / "a.pem", CLIENT_URI, "client-a")
    der_a = (tmp_path / "a.der").read_bytes()
    (root / "issuers/certs/ca.der").write_bytes(ca.der())
    make_crl(ca, [], root / "issuers/crl/ca.crl")
    store.refresh()
    assert store.check(der_a) == "BadCertificateUntrusted"
    shutil.copy(tmp_path / "a.der", root / "trusted/certs/a.der")  # trusted by itself, its CA known
    store.refresh()
    assert store.check(der_a) is None


def test_intermediate_ca_chain_and_a_forged_issuer(ca: Ca, tmp_path: Path) -> None:
    root = tmp_path / "pki"
    store = PkiStore(root)
    sub = make_ca("Cell 4 CA", issuer=ca)
    issue_client(sub, tmp_path / "a.der", tmp_path / "a.pem", CLIENT_URI, "client-a")
    der_a = (tmp_path / "a.der").read_bytes()
    (root / "trusted/certs/root.der").write_bytes(ca.der())
    (root / "issuers/certs/sub.der").write_bytes(sub.der())
    make_crl(ca, [], root / "trusted/crl/root.crl")
    make_crl(sub, [], root / "issuers/crl/sub.crl")
    store.refresh()
    assert store.check(der_a) is None
    make_crl(ca, [sub.cert], root / "trusted/crl/root.crl")  # the root revokes the intermediate
    store.refresh()
    assert store.check(der_a) == "BadCertificateIssuerRevoked"
    # a CA with the same name but another key: its certificates do not chain to the trusted one
    forged = make_ca("Test Line CA")
    issue_client(forged, tmp_path / "f.der", tmp_path / "f.pem", CLIENT_URI, "mallory")
    assert store.check((tmp_path / "f.der").read_bytes()) == "BadCertificateChainIncomplete"


def test_rejected_certificates_are_filed_once_under_their_name_and_capped(tmp_path: Path) -> None:
    store = PkiStore(tmp_path / "pki", max_rejected=3)
    ders = [_self_signed(tmp_path, f"c{i}", client_only=True) for i in range(5)]
    first = store.reject(ders[0])
    assert first is not None and first.parent == tmp_path / "pki/rejected/certs"
    assert first.name.startswith("inspect-app station [") and first.name.endswith("].der")
    assert first.read_bytes() == leaf_der(ders[0])
    assert store.reject(ders[0]) == first  # the same certificate again: one file
    for der in ders[1:]:
        store.reject(der)
    assert len(list((tmp_path / "pki/rejected/certs").glob("*.der"))) == 3
    # an engineer trusts a rejected certificate by moving it
    kept = sorted((tmp_path / "pki/rejected/certs").glob("*.der"))[0]
    kept_der = kept.read_bytes()
    kept.rename(tmp_path / "pki/trusted/certs" / kept.name)
    store.refresh()
    assert store.check(kept_der) is None


def test_leaf_of_a_der_chain() -> None:
    one = bytes([0x30, 0x03, 1, 2, 3])
    long_form = bytes([0x30, 0x81, 0x02, 9, 9])
    assert leaf_der(one + bytes([0x30, 0x01, 7])) == one
    assert leaf_der(long_form + one) == long_form
