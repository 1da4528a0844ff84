"""The one registry of model releases: which releases a models folder holds, and which one is the default.

Layout: ``<root>/<name>/<version>/manifest.json`` (a release, see ``model_release``) and
``<root>/default.json``, the pointer the demo and ``models promote`` use:
``{"release": "NAME/VERSION", "previous": "NAME/VERSION"}``.
``previous`` is what ``models rollback`` goes back to, so a rollback needs nothing but this one file. Every
change of the pointer is also appended to ``<root>/promotions.jsonl`` (who, when, from, to, why), the models
folder's own history beside the audit rows the station writes into results.db.

The pointer is replaced atomically (write a temporary file, fsync, rename): the station never reads half a
pointer, and a crash leaves either the old or the new one. Releases are never deleted here: a promotion only
moves the pointer, so the previous release stays on disk for a rollback.

Stays importable without torch (the station uses it).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inspect_app.model_release import MANIFEST, ModelError, Release, load_release

POINTER = "default.json"
HISTORY = "promotions.jsonl"
REPO_MODELS = Path(__file__).resolve().parent.parent / "models"


def models_root() -> Path:
    """$INSPECT_APP_MODELS, else the repository's models/ folder."""
    return Path(os.environ.get("INSPECT_APP_MODELS", REPO_MODELS))


def _version_key(version: str) -> tuple:
    # 0.10.0 after 0.9.0: numeric parts compare as numbers, the rest as text
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"[.\-+]", version))


@dataclass(frozen=True, slots=True)
class ReleaseEntry:
    """One release directory found under the root; ``release`` is None when it does not load (``error``)."""

    ref: str  # NAME/VERSION
    path: Path
    release: Release | None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Promotion:
    """One change of the default pointer, as recorded in promotions.jsonl."""

    time: float
    action: str  # "promote" | "rollback"
    release: str
    previous: str | None
    who: str
    forced: bool = False
    reason: str = ""
    gate: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "time": self.time, "action": self.action, "release": self.release, "previous": self.previous,
            "who": self.who, "forced": self.forced, "reason": self.reason, "gate": self.gate,
        }  # fmt: skip


class ReleaseRegistry:
    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else models_root()

    # ------------------------------------------------------------------ discovery
    def refs(self) -> list[str]:
        """NAME/VERSION of every directory under the root that has a manifest, by name then version."""
        if not self.root.is_dir():
            return []
        found = [f"{m.parent.parent.name}/{m.parent.name}" for m in self.root.glob(f"*/*/{MANIFEST}")]
        return sorted(found, key=lambda r: (r.split("/")[0], _version_key(r.split("/")[1])))

    def dirs(self) -> list[Path]:
        return [self.root / ref for ref in self.refs()]

    def entries(self, verify: Iterable[str] | None = ()) -> list[ReleaseEntry]:
        """Every release, loaded (``verify``: the files whose sha256 is checked; none by default, so listing
        stays fast; sizes are always checked). A broken one is listed with its error, not skipped."""
        out = []
        for ref in self.refs():
            path = self.root / ref
            try:
                out.append(ReleaseEntry(ref, path, load_release(path, verify=verify)))
            except ModelError as exc:
                out.append(ReleaseEntry(ref, path, None, str(exc)))
        return out

    def path(self, ref: str | Path) -> Path:
        """A release directory from NAME/VERSION (under the root) or from a directory path."""
        p = Path(ref)
        if (p / MANIFEST).is_file():
            return p
        return self.root / str(ref)

    def load(self, ref: str | Path, verify: Iterable[str] | None = None) -> Release:
        return load_release(self.path(ref), verify=verify)

    def ref_of(self, path: str | Path) -> str | None:
        """NAME/VERSION of a release directory under this root; None for one elsewhere."""
        p = Path(path).resolve()
        if p.parent.parent != self.root.resolve():
            return None
        return f"{p.parent.name}/{p.name}"

    # ------------------------------------------------------------------ the default pointer
    def pointer(self) -> dict[str, Any]:
        try:
            data = json.loads((self.root / POINTER).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def default_ref(self) -> str | None:
        release = self.pointer().get("release")
        return release if isinstance(release, str) and release else None

    def previous_ref(self) -> str | None:
        previous = self.pointer().get("previous")
        return previous if isinstance(previous, str) and previous else None

    def default_dir(self) -> Path:
        """The default release's directory; a path that does not exist when there is no pointer, so that
        ``load_release`` says clearly what is missing."""
        ref = self.default_ref()
        return self.root / (ref or "missing-default-release")

    def set_default(
        self, ref: str, *, who: str = "cli", action: str = "promote", forced: bool = False, reason: str = "",
        gate: dict[str, Any] | None = None,
    ) -> Promotion:  # fmt: skip
        """Point the default at ``ref`` (a release under the root), keeping the old one as ``previous``."""
        if not (self.root / ref / MANIFEST).is_file():
            raise ModelError(f"{ref} is not a release under {self.root} (models/<name>/<version>)")
        old = self.default_ref()
        entry = Promotion(time.time(), action, ref, old, who, forced, reason, dict(gate or {}))
        pointer = {"release": ref}
        if old is not None and old != ref:
            pointer["previous"] = old
        elif self.previous_ref() is not None:
            pointer["previous"] = self.previous_ref()  # type: ignore[assignment]
        _atomic_write(self.root / POINTER, json.dumps(pointer, indent=2) + "\n")
        with open(self.root / HISTORY, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry.as_dict(), sort_keys=True) + "\n")
        return entry

    def history(self) -> list[Promotion]:
        path = self.root / HISTORY
        if not path.is_file():
            return []
        out = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                d = json.loads(line)
                out.append(Promotion(**d))
            except (ValueError, TypeError):
                continue  # a torn last line after a crash is not a reason to refuse a rollback
        return out


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)
