"""The ``plc`` commands of ``inspect-app`` (an ``inspect_app.commands`` entry point):

* ``simulate-plc`` - a PLC simulator with a conformance report (see docs/plc-handshake.md);
* ``opcua gen-cert`` - the station's certificate and key, offline;
* ``opcua hash-password`` - a password hash for ``[opcua.users.NAME]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from pathlib import Path

from inspect_app.cli_parser import UserError, state_dir_with_db_alias
from inspect_app.cli_password import add_password_input, read_new_password


def add_arguments(sub: argparse._SubParsersAction) -> None:
    sim = sub.add_parser("simulate-plc", help="PLC simulator: drive the OPC UA handshake, print a report")
    sim.add_argument(
        "--mode",
        choices=["server", "client"],
        default="server",
        help="server: the station serves, we are the PLC client; client: we are the PLC's server",
    )
    sim.add_argument(
        "--config", type=Path, help="take the endpoint and the results DB from this station config"
    )
    sim.add_argument(
        "--url", default=None, help="station endpoint (server mode) or where to listen (client mode)"
    )
    sim.add_argument("--user", default=None)
    sim.add_argument(
        "--password-env", default="INSPECT_APP_OPCUA_PASSWORD", help="env variable with the password"
    )
    sim.add_argument(
        "--security",
        default=None,
        help="asyncua security string: Basic256Sha256,SignAndEncrypt,cert.der,key.pem[,server.der]",
    )
    sim.add_argument("--parts", type=int, default=20)
    sim.add_argument("--rate", type=float, default=5.0, help="triggers per second (upper bound)")
    sim.add_argument("--late-ack", type=int, default=0, metavar="N", help="every Nth part: Ack too late")
    sim.add_argument("--late-ack-s", type=float, default=3.0, help="how late (> the station's ack_timeout_s)")
    sim.add_argument(
        "--double-trigger", type=int, default=0, metavar="N", help="every Nth part: trigger twice"
    )
    sim.add_argument(
        "--link-cut",
        type=int,
        default=0,
        metavar="N",
        help="every Nth part: drop the link (client mode: restart the PLC server)",
    )
    state_dir_with_db_alias(sim, default=None)  # with it, each result's row is checked committed first
    sim.add_argument("--budget-ms", type=float, default=None, help="fail if trigger->ResultValid p99 exceeds")
    sim.add_argument("--timeout-s", type=float, default=10.0, help="a result later than this is missing")
    sim.set_defaults(func=cmd_simulate_plc)

    opcua = sub.add_parser("opcua", help="OPC UA link tools").add_subparsers(metavar="ACTION")
    gen = opcua.add_parser("gen-cert", help="make the station's certificate (DER) and key (PEM) offline")
    gen.add_argument("--config", type=Path, help="write to the config's opcua.certificate / private_key")
    gen.add_argument("--cert", type=Path, default=None)
    gen.add_argument("--key", type=Path, default=None)
    gen.add_argument(
        "--uri", default=None, help="application URI (default: the config's, or urn:inspect-app:station)"
    )
    gen.add_argument(
        "--host", action="append", default=None, help="host name or IP for subjectAltName (repeat)"
    )
    gen.add_argument("--days", type=int, default=3650)
    gen.add_argument("--force", action="store_true", help="overwrite existing files")
    gen.set_defaults(func=cmd_gen_cert)
    hp = opcua.add_parser("hash-password", help="print a password hash for [opcua.users.NAME] password_hash")
    add_password_input(hp)  # as ui hash-password: a prompt, --password-stdin or --password-env NAME
    hp.set_defaults(func=cmd_hash_password)


def cmd_hash_password(args: argparse.Namespace) -> int:
    from inspect_app.passwords import hash_password

    print(hash_password(read_new_password(args)))
    return 0


def cmd_gen_cert(args: argparse.Namespace) -> int:
    import socket

    from plc.certs import describe, generate_certificate

    cert, key, uri = args.cert, args.key, args.uri
    if args.config:
        from inspect_app.config import load_config

        opc = load_config(args.config).opcua
        cert, key, uri = cert or opc.certificate, key or opc.private_key, uri or opc.application_uri
    cert = cert or Path("var/pki/station_cert.der")
    key = key or Path("var/pki/station_key.pem")
    for path in (cert, key):
        if path.exists() and not args.force:
            raise UserError(
                f"{path} exists; use --force to replace it (clients trusting it must then be updated)"
            )
    hosts = args.host or sorted({socket.gethostname(), socket.getfqdn()})
    made = generate_certificate(cert, key, uri or "urn:inspect-app:station", hosts, days=args.days)
    print(f"wrote {cert} and {key} (0600)\n{describe(made)}")
    print("Copy the .der into the trust list of every PLC/MES client; their certificates go into trust_dir.")
    return 0


def cmd_simulate_plc(args: argparse.Namespace) -> int:
    url, db = args.url, args.db
    if args.config:
        from inspect_app.config import load_config

        cfg = load_config(args.config)
        url = url or (cfg.opcua.endpoint if args.mode == "server" else cfg.opcua.client.server_url)
        db = db or cfg.state_dir / cfg.store.db
    url = url or ("opc.tcp://127.0.0.1:4840/" if args.mode == "server" else "opc.tcp://127.0.0.1:4841/")
    if args.mode == "client":
        from plc.plc_server_sim import run_client_mode

        report = asyncio.run(run_client_mode(url, args.parts, args.rate, args.link_cut, args.timeout_s))
    else:
        from asyncua import ua

        from plc.simulator import Connection, Faults, PlcSimulator

        conn = Connection(
            url, args.user, os.environ.get(args.password_env) if args.user else None, args.security
        )
        faults = Faults(args.late_ack, args.double_trigger, args.link_cut, args.late_ack_s)
        sim = PlcSimulator(conn, db=db if db and db.exists() else None, result_timeout_s=args.timeout_s)
        t0 = time.monotonic()
        try:
            report = asyncio.run(sim.run(args.parts, args.rate, faults, budget_ms=args.budget_ms))
        except (OSError, TimeoutError, ua.UaError) as exc:
            raise UserError(f"cannot reach the station at {url}: {type(exc).__name__} {exc}") from exc
        report.notes.append(f"run took {time.monotonic() - t0:.1f}s")
    print(report.render())
    return 0 if report.passed else 1
