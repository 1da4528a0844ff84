"""Model releases: a versioned directory with the exported model files and a manifest that pins them.

Layout: ``models/<name>/<version>/{manifest.json, model.onnx, model.pt, ...}``. The station loads a release,
not a loose file: the manifest says which classes the model predicts and at which input size, and the
sha256 of every file, so a half-copied or swapped model is refused at start instead of silently producing
wrong verdicts. A release may offer the model in more than one precision (``precisions``: f32, and an int8
model that passed its accuracy gate), each with its own files and metrics. This module must stay importable
without torch (the station has none); ``onnx`` is imported only inside ``verify_onnx_shape``.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from inspect_app.protocols import ModelInfo

SCHEMA = 1
MANIFEST = "manifest.json"
_CHUNK = 1 << 20  # 1 MiB reads: hashing speed is flat above ~64 KiB and memory stays constant
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_REQUIRED = ("schema", "name", "version", "created", "task", "imgsz", "stride", "names", "files")
# precisions a release can ship as files; bf16 is not one of them: it is the f32 file run with OpenVINO's
# bf16 hint, a choice made on the station (it depends on the CPU), not in the release
FILE_PRECISIONS = ("f32", "int8")


class ModelError(Exception):
    """A model release that cannot be used; the message says what is wrong and where, for the operator."""


@dataclass(frozen=True, slots=True)
class FileEntry:
    sha256: str
    bytes: int


@dataclass(frozen=True, slots=True)
class Precision:
    """One precision a release offers: the files that make it (the first is the one a runtime opens),
    its metrics, and whether it passed its accuracy gate against f32 (always True for f32 itself)."""

    name: str
    files: tuple[str, ...]
    gate_passed: bool = True
    metrics: Mapping[str, Any] = field(default_factory=dict)

    @property
    def file(self) -> str:
        return self.files[0]


@dataclass(frozen=True, slots=True)
class Release:
    root: Path
    name: str
    version: str
    created: str
    task: str
    imgsz: tuple[int, int]  # h, w
    stride: int
    names: tuple[str, ...]
    files: Mapping[str, FileEntry]
    metrics: Mapping[str, Any] = field(default_factory=dict)
    train: Mapping[str, Any] = field(default_factory=dict)
    data_fingerprint: str | None = None
    parent: str | None = None
    schema: int = SCHEMA
    # from the manifest's "precisions"; a release without it offers f32 (model.onnx) only
    precisions: Mapping[str, Precision] = field(default_factory=dict)

    @property
    def model_id(self) -> str:
        return f"{self.name}/{self.version}"

    def precision(self, name: str) -> Precision:
        """The files of precision ``name``; ModelError if the release does not offer it (or it failed its
        gate: such a model is never run, whatever the config says)."""
        found = self.precisions.get(name)
        if found is None and name == "f32" and "model.onnx" in self.files:
            return Precision("f32", ("model.onnx",), True, self.metrics)
        if found is None:
            offered = ", ".join(self.offered()) or "none"
            raise ModelError(f"{self.root}: release offers no {name} model (it offers: {offered})")
        if not found.gate_passed:
            raise ModelError(f"{self.root}: the {name} model did not pass its accuracy gate; it is not used")
        return found

    def offered(self) -> tuple[str, ...]:
        """File precisions that may run, f32 first."""
        names = [n for n in FILE_PRECISIONS if n in self.precisions and self.precisions[n].gate_passed]
        if "f32" not in names and "model.onnx" in self.files:
            names.insert(0, "f32")
        return tuple(names)

    def file(self, name: str) -> Path:
        if name not in self.files:
            listed = ", ".join(sorted(self.files)) or "none"
            raise ModelError(f"{self.root}: release has no file '{name}' (manifest lists: {listed})")
        return self.root / name

    def sha256(self, name: str) -> str:
        self.file(name)
        return self.files[name].sha256

    def model_info(self, file: str, backend: str, precision: str = "f32") -> ModelInfo:
        """What a detector running ``file`` of this release with ``backend`` reports about its model."""
        return ModelInfo(
            model_id=self.model_id, name=self.name, version=self.version, sha256=self.sha256(file),
            names=self.names, imgsz=self.imgsz, path=str(self.file(file)), backend=backend,
            precision=precision,
        )


def sha256_file(path: str | Path) -> str:
    """Streamed sha256, so a large model never has to fit in memory twice."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def file_entry(path: str | Path) -> dict[str, Any]:
    """The manifest entry of one file (used by the release writer)."""
    path = Path(path)
    return {"sha256": sha256_file(path), "bytes": path.stat().st_size}


def load_release(path: str | Path, verify: Iterable[str] | None = None) -> Release:
    """Read and check a release directory.

    Every listed file must exist with its listed size. ``verify`` names the files whose sha256 is checked
    (``None``: all of them); the station passes only the file it runs, because hashing a checkpoint it never
    opens would only slow every start.
    """
    root = Path(path)
    if not root.exists():
        raise ModelError(f"model release not found: {root} does not exist")
    if not root.is_dir():
        raise ModelError(f"model release {root} is not a directory (expected models/<name>/<version>)")
    manifest_path = root / MANIFEST
    if not manifest_path.is_file():
        raise ModelError(f"{root}: no {MANIFEST}; not a model release, or it was copied incompletely")
    try:
        raw = manifest_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"{manifest_path}: cannot read manifest: {exc}") from None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ModelError(f"{manifest_path}: manifest is not valid JSON ({exc})") from None
    release = _parse_manifest(root, manifest_path, data)

    for name, entry in release.files.items():
        p = root / name
        if not p.is_file():
            raise ModelError(f"{root}: file '{name}' listed in the manifest is missing")
        size = p.stat().st_size
        if size != entry.bytes:
            raise ModelError(
                f"{p}: size is {size} bytes but the manifest says {entry.bytes}; "
                "the file is truncated or not the released one"
            )
    for name in release.files if verify is None else verify:
        expected = release.sha256(name)
        actual = sha256_file(root / name)
        if actual != expected:
            raise ModelError(
                f"{root / name}: sha256 mismatch, file has {actual} but the manifest expects {expected}; "
                "the file was modified or replaced after release"
            )
    return release


def _parse_manifest(root: Path, manifest_path: Path, data: Any) -> Release:
    where = str(manifest_path)
    if not isinstance(data, dict):
        raise ModelError(f"{where}: manifest must be a JSON object")
    missing = [k for k in _REQUIRED if k not in data]
    if missing:
        raise ModelError(f"{where}: manifest is missing key(s): {', '.join(missing)}")
    if data["schema"] != SCHEMA:
        raise ModelError(f"{where}: manifest schema {data['schema']!r} is not supported (expected {SCHEMA})")
    if data["task"] != "detect":
        raise ModelError(f"{where}: task '{data['task']}' is not supported (only 'detect')")
    for key in ("name", "version", "created"):
        if not isinstance(data[key], str) or not data[key]:
            raise ModelError(f"{where}: '{key}' must be a non-empty string")
    imgsz = data["imgsz"]
    if not (isinstance(imgsz, list) and len(imgsz) == 2 and all(_pos_int(v) for v in imgsz)):
        raise ModelError(f"{where}: 'imgsz' must be [height, width] in pixels, got {imgsz!r}")
    if not _pos_int(data["stride"]):
        raise ModelError(f"{where}: 'stride' must be a positive integer, got {data['stride']!r}")
    names = data["names"]
    if not (isinstance(names, list) and names and all(isinstance(n, str) and n for n in names)):
        raise ModelError(f"{where}: 'names' must be a non-empty list of class names")
    if len(set(names)) != len(names):
        raise ModelError(f"{where}: 'names' has duplicates: {names}")
    files = data["files"]
    if not isinstance(files, dict) or not files:
        raise ModelError(f"{where}: 'files' must list at least one model file")
    entries: dict[str, FileEntry] = {}
    for fname, e in files.items():
        # plain names only: a manifest must not make the station read files outside its release directory
        if Path(fname).name != fname or fname in (".", "..", MANIFEST):
            raise ModelError(f"{where}: file name '{fname}' is not allowed (must be a plain file name)")
        if not (
            isinstance(e, dict)
            and isinstance(e.get("sha256"), str)
            and _SHA256_RE.match(e["sha256"])
            and isinstance(e.get("bytes"), int)
            and e["bytes"] >= 0
        ):
            raise ModelError(f'{where}: files.{fname} must be {{"sha256": <64 hex>, "bytes": <int>}}')
        entries[fname] = FileEntry(e["sha256"], e["bytes"])
    for key in ("metrics", "train", "precisions"):
        if data.get(key) is not None and not isinstance(data[key], dict):
            raise ModelError(f"{where}: '{key}' must be an object")
    precisions = _parse_precisions(where, data.get("precisions") or {}, entries)
    return Release(
        root=root,
        name=data["name"],
        version=data["version"],
        created=data["created"],
        task=data["task"],
        imgsz=(int(imgsz[0]), int(imgsz[1])),
        stride=int(data["stride"]),
        names=tuple(names),
        files=MappingProxyType(entries),
        metrics=MappingProxyType(dict(data.get("metrics") or {})),
        train=MappingProxyType(dict(data.get("train") or {})),
        data_fingerprint=data.get("data_fingerprint"),
        parent=data.get("parent"),
        schema=data["schema"],
        precisions=MappingProxyType(precisions),
    )


def _parse_precisions(where: str, raw: dict, files: Mapping[str, FileEntry]) -> dict[str, Precision]:
    out: dict[str, Precision] = {}
    for name, e in raw.items():
        key = f"{where}: precisions.{name}"
        if name not in FILE_PRECISIONS:
            raise ModelError(f"{key}: unknown precision (a release ships: {', '.join(FILE_PRECISIONS)})")
        if not isinstance(e, dict):
            raise ModelError(f"{key} must be an object")
        gate = e.get("gate")
        if name != "f32" and not (isinstance(gate, dict) and isinstance(gate.get("passed"), bool)):
            raise ModelError(f'{key}.gate must say whether it passed ({{"passed": true|false, ...}})')
        passed = True if name == "f32" else bool(gate["passed"])  # type: ignore[index]
        names = e.get("files")
        # a model that failed its gate is not shipped: its entry only records the attempt, without files
        if not (isinstance(names, list) and (names or not passed) and all(isinstance(f, str) for f in names)):
            raise ModelError(f"{key}.files must be a non-empty list of file names")
        unlisted = [f for f in names if f not in files]
        if unlisted:
            # every file a precision runs must be pinned by sha256, like the rest of the release
            raise ModelError(f"{key}.files: {', '.join(unlisted)} not listed in 'files'")
        metrics = e.get("metrics") or {}
        if not isinstance(metrics, dict):
            raise ModelError(f"{key}.metrics must be an object")
        out[name] = Precision(name, tuple(names), passed, MappingProxyType(dict(metrics)))
    return out


def _pos_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v > 0


def verify_onnx_shape(release: Release, file: str = "model.onnx") -> None:
    """Check that the ONNX graph is the model the manifest describes.

    A wrong input size would make the letterbox feed a shape the runtime rejects (or, for a dynamic model,
    silently detect at another scale); wrong output channels mean another class list. Both are caught here
    with a message, instead of as a runtime traceback on the first part.
    """
    import onnx  # station dependency, but only needed here

    path = release.file(file)
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:
        raise ModelError(f"{path}: not a readable ONNX model ({type(exc).__name__}: {exc})") from exc
    graph = model.graph
    if len(graph.input) < 1 or len(graph.output) < 1:
        raise ModelError(f"{path}: ONNX graph has no inputs or outputs; not a detection model")
    h, w = release.imgsz
    in_dims = _dims(graph.input[0])
    if in_dims != [1, 3, h, w]:
        raise ModelError(
            f"{path}: ONNX input shape is {_fmt(in_dims)} but the manifest imgsz needs [1, 3, {h}, {w}]; "
            "re-export the model at the manifest's size"
        )
    out_dims = _dims(graph.output[0])
    want = 4 + len(release.names)
    if len(out_dims) != 3 or out_dims[1] != want:
        raise ModelError(
            f"{path}: ONNX output shape is {_fmt(out_dims)}, expected [1, {want}, N] for 4 box values + "
            f"{len(release.names)} classes ({', '.join(release.names)}); the model and manifest disagree"
        )
    meta = {p.key: p.value for p in model.metadata_props}
    if "names" in meta:
        try:
            embedded = ast.literal_eval(meta["names"])  # ultralytics writes str(dict)
        except (ValueError, SyntaxError):
            embedded = None
        if isinstance(embedded, dict):
            embedded_names = [str(embedded[k]) for k in sorted(embedded)]
            if embedded_names != list(release.names):
                raise ModelError(
                    f"{path}: class names in the model {embedded_names} differ from the manifest "
                    f"{list(release.names)}"
                )


def _dims(value_info: Any) -> list[int | str]:
    dims: list[int | str] = []
    for d in value_info.type.tensor_type.shape.dim:
        dims.append(d.dim_value if d.HasField("dim_value") else (d.dim_param or "?"))
    return dims


def _fmt(dims: list[int | str]) -> str:
    return "[" + ", ".join(str(d) for d in dims) + "]"
