"""node-opcua for the interop tests: installed here by the tests (``npm install`` into the git-ignored
``tests/plc/interop/node_modules``) at the version package.json pins, once; every test of this folder skips,
saying why, where node or npm is missing or the install fails (offline). ``.ci/run`` installs node and npm."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

INTEROP = Path(__file__).resolve().parent
PINNED = json.loads((INTEROP / "package.json").read_text())["dependencies"]["node-opcua-client"]
# node-opcua-client 2.182 loads ES modules with require(), which Node has without a flag from 20.19 (Debian
# 12's nodejs 18 fails with ERR_REQUIRE_ESM)
MIN_NODE = (20, 19)
# one quick retry, not npm's default back-off of a minute and more, where the registry cannot be reached
QUICK_RETRY = ("--fetch-retries=1", "--fetch-retry-mintimeout=1000", "--fetch-retry-maxtimeout=5000")


@dataclass
class NodeOpcua:
    node: str
    work: Path  # HOME and client PKI folders of the node processes: nothing is written under ~

    def run(self, script: str, opts: dict[str, Any], timeout: float = 120) -> dict[str, Any]:
        """Run ``<script>.mjs`` with ``opts`` (a client PKI folder is added); its RESULT line, parsed, with
        what node-opcua logged meanwhile under "log" (it logs an Error message's status, and reports only
        a closed connection to the caller)."""
        pki = self.work / f"pki-{len(list(self.work.glob('pki-*')))}"
        pki.mkdir()
        env = {**os.environ, "HOME": str(self.work), "XDG_CONFIG_HOME": str(self.work / ".config")}
        proc = subprocess.run(
            [self.node, str(INTEROP / f"{script}.mjs"), json.dumps({"pki": str(pki), **opts}, default=str)],
            cwd=INTEROP,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
        tail = f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        assert lines, f"{script}.mjs gave no result (rc {proc.returncode}):\n{tail}"
        return {**json.loads(lines[-1][len("RESULT ") :]), "log": proc.stdout + proc.stderr}


def _installed_version() -> str | None:
    meta = INTEROP / "node_modules" / "node-opcua-client" / "package.json"
    try:
        return json.loads(meta.read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None


@pytest.fixture(scope="session")
def node_opcua(tmp_path_factory: pytest.TempPathFactory) -> NodeOpcua:
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip("node-opcua interop tests need node and npm, not found here (.ci/run installs them)")
    version = subprocess.run([node, "-p", "process.versions.node"], capture_output=True, text=True).stdout
    found = tuple(int(x) for x in version.strip().split(".")[:2] if x.isdigit())
    if found < MIN_NODE:
        need = ".".join(map(str, MIN_NODE))
        pytest.skip(f"node-opcua-client@{PINNED} needs node >= {need}, found {version.strip() or '?'}")
    work = tmp_path_factory.mktemp("node-opcua")
    if _installed_version() != PINNED:
        env = {**os.environ, "HOME": str(work), "npm_config_cache": str(work / "npm-cache")}
        try:
            proc = subprocess.run(
                [npm, "install", "--no-audit", "--no-fund", *QUICK_RETRY],
                cwd=INTEROP,
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
            )
        except subprocess.TimeoutExpired:
            pytest.skip(f"npm install of node-opcua-client@{PINNED} took over 10 minutes (offline?)")
        if proc.returncode != 0 or _installed_version() != PINNED:
            errors = [x for x in proc.stderr.splitlines() if x.startswith("npm error") and "log of" not in x]
            why = "; ".join(errors[:3]) or proc.stderr.strip()[-300:] or f"exit status {proc.returncode}"
            pytest.skip(f"npm install of node-opcua-client@{PINNED} failed (offline?): {why}")
    return NodeOpcua(node, work)
