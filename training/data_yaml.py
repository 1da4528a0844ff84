"""Read and check an ultralytics detection dataset (``data.yaml``) before any training starts.

ultralytics itself skips a broken label as a "corrupt image" with a warning among hundreds of log lines, and
a missing split surfaces as a stack trace from deep inside its dataset code. Quality engineers edit these
files by hand, so every problem is reported here as ``file:line: what is wrong``, all at once.

What counts as wrong (and what does not):

* ``train:`` and ``val:`` are required, ``test:`` optional; each must exist and hold images.
* a label line is ``class cx cy w h`` (or a polygon ``class x1 y1 x2 y2 x3 y3 ...``), the class an integer
  id among ``names``, the coordinates normalised to [0, 1], a box with a positive width and height.
* an image listed in a list file must exist; a label file in a split directory must have its image.
* an **empty label file** (zero bytes or only whitespace) is a background image, as in YOLO: the synthetic
  generator writes one for every clean part, and they keep false positives down. It is an error only when
  *every* label file of the train or val split is empty (or missing): there is then nothing to learn from or
  to measure, which is what an export bug that truncates labels produces.

The file also yields the dataset's fingerprint (sha256 over the image list and the label files' contents),
which goes into the training config and the release manifest.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SPLITS = ("train", "val", "test")
REQUIRED = ("train", "val")
# ultralytics.data.utils.IMG_FORMATS (copied: this module must not import ultralytics, see the checks above)
IMG_FORMATS = {
    *("avif", "bmp", "dng", "heic", "heif", "jp2", "jpeg", "jpg", "mpo", "png", "tif", "tiff", "webp")
}
MAX_REPORTED = 12  # a systematic error repeats on every file; the first dozen say enough


class DataError(ValueError):
    """A dataset that cannot be trained on; the message names each file and line at fault."""


@dataclass(frozen=True)
class SplitInfo:
    images: tuple[Path, ...]
    instances: int
    backgrounds: int  # images whose label file is missing or empty


@dataclass(frozen=True)
class DataSpec:
    yaml_path: Path
    root: Path
    names: dict[int, str]
    sources: dict[
        str, list[str]
    ]  # split -> absolute paths as ultralytics will read them (dirs or list files)
    splits: dict[str, SplitInfo]
    fingerprint: str
    class_counts: dict[str, dict[str, int]] = field(default_factory=dict)  # split -> class name -> instances

    @property
    def nc(self) -> int:
        return len(self.names)

    def ultralytics_dict(self) -> dict[str, Any]:
        """The dict ``check_det_dataset`` would return, with absolute paths (no cwd-dependent resolution)."""
        data: dict[str, Any] = {
            "path": str(self.root),
            "names": dict(self.names),
            "nc": self.nc,
            "channels": 3,
            "yaml_file": str(self.yaml_path),
        }
        for split, src in self.sources.items():
            data[split] = src[0] if len(src) == 1 else list(src)
        return data

    def summary(self) -> dict[str, Any]:
        return {
            "yaml": str(self.yaml_path),
            "fingerprint": self.fingerprint,
            "images": {s: len(i.images) for s, i in self.splits.items()},
            "instances": {s: i.instances for s, i in self.splits.items()},
            "backgrounds": {s: i.backgrounds for s, i in self.splits.items()},
        }


class _Errors:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{where}: {message}")

    def raise_if_any(self, yaml_path: Path) -> None:
        if not self.items:
            return
        shown = self.items[:MAX_REPORTED]
        more = len(self.items) - len(shown)
        tail = f"\n  ... and {more} more" if more else ""
        raise DataError(
            f"{yaml_path}: dataset has {len(self.items)} problem(s):\n  " + "\n  ".join(shown) + tail
        )


def _key_lines(text: str) -> dict[str, int]:
    """1-based line of every top-level key, so a message can point at it."""
    import yaml

    node = yaml.compose(text, Loader=yaml.SafeLoader)
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {str(k.value): k.start_mark.line + 1 for k, _ in node.value}


def _load_yaml(path: Path) -> tuple[dict[str, Any], dict[str, int]]:
    import yaml

    if not path.is_file():
        raise DataError(f"{path}: dataset file does not exist")
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
        lines = _key_lines(text)
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise DataError(f"{where}: not valid YAML: {getattr(exc, 'problem', None) or exc}") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: must be a YAML mapping with train:, val: and names:")
    return data, lines


def _names(data: dict[str, Any], at: Any, errors: _Errors) -> dict[int, str]:
    names = data.get("names")
    if names is None:
        errors.add(at("names"), "no 'names:' (the class names, e.g. names: {0: scratch, 1: pit})")
        return {}
    if isinstance(names, list):
        names = dict(enumerate(names))
    if not isinstance(names, dict) or not names:
        errors.add(at("names"), "'names' must be a list or a mapping id -> name")
        return {}
    try:
        out = {int(k): str(v) for k, v in names.items()}
    except (TypeError, ValueError):
        errors.add(at("names"), f"class ids must be integers, got {sorted(map(str, names))}")
        return {}
    if sorted(out) != list(range(len(out))):
        errors.add(at("names"), f"class ids must be 0..{len(out) - 1} without gaps, got {sorted(out)}")
    nc = data.get("nc")
    if nc is not None and nc != len(out):
        errors.add(at("nc"), f"nc is {nc} but names lists {len(out)} classes")
    return out


def _root(data: dict[str, Any], yaml_path: Path) -> Path:
    """As ``check_det_dataset``: a relative ``path:`` is taken from the cwd when it exists there; unlike it,
    we then fall back to the yaml's folder instead of ultralytics' global datasets dir."""
    raw = data.get("path")
    if not raw:
        return yaml_path.parent.resolve()
    p = Path(str(raw)).expanduser()
    if p.is_absolute() or p.exists():
        return p.resolve()
    return (yaml_path.parent / p).resolve()


def _resolve(root: Path, value: str) -> Path:
    x = (root / value).resolve()
    if not x.exists() and value.startswith("../"):  # ultralytics' own fallback for "../images/train"
        x = (root / value[3:]).resolve()
    return x


def _is_image(p: Path | str) -> bool:
    return str(p).rpartition(".")[-1].lower() in IMG_FORMATS


def label_path(image: Path) -> Path:
    """ultralytics' img2label_paths: the last ``/images/`` becomes ``/labels/``, the suffix ``.txt``."""
    sa, sb = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
    return Path(sb.join(str(image).rsplit(sa, 1)).rsplit(".", 1)[0] + ".txt")


def _list_images(src: Path, where: str, errors: _Errors) -> list[Path]:
    if src.is_dir():
        return [p for p in src.rglob("*.*") if p.is_file() and _is_image(p)]
    images = []
    try:
        lines = src.read_text(encoding="utf-8-sig").strip().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        errors.add(where, f"cannot read image list {src}: {exc}")
        return []
    for n, line in enumerate(lines, 1):
        entry = line.strip()
        if not entry or not _is_image(entry):
            continue  # ultralytics skips non-image entries the same way
        # as ultralytics: "./x" is relative to the list file, anything else to the cwd
        p = Path(entry.replace("./", str(src.parent) + os.sep, 1) if entry.startswith("./") else entry)
        if not p.is_file():
            errors.add(f"{src}:{n}", f"image {entry} does not exist")
        else:
            images.append(p.resolve() if not p.is_absolute() else p)
    return images


def _check_image(p: Path, errors: _Errors) -> None:
    from PIL import Image  # header only: decoding every image would double the start-up time

    try:
        if p.stat().st_size == 0:
            errors.add(str(p), "image file is empty (0 bytes)")
            return
        with Image.open(p) as im:
            w, h = im.size
        if w < 10 or h < 10:
            errors.add(str(p), f"image is {w}x{h} pixels; ultralytics needs at least 10x10")
    except OSError as exc:
        errors.add(str(p), f"not a readable image ({exc})")
    except ImportError:
        # once ultralytics is imported it patches Image.open to retry unknown files with a HEIF plugin
        # that is not installed (and must not be downloaded): the file is still not a readable image
        errors.add(str(p), "not a readable image (unknown format)")


def _check_label(path: Path, nc: int, errors: _Errors, counts: dict[int, int]) -> tuple[int, bytes]:
    """Instances in one label file (0: background); errors name the line."""
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except OSError as exc:
        errors.add(str(path), f"cannot read label file: {exc}")
        return 0, b""
    except UnicodeDecodeError:
        errors.add(str(path), "label file is not UTF-8 text")
        return 0, raw
    n = 0
    for ln, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        where = f"{path}:{ln}"
        if len(parts) != 5 and (len(parts) < 7 or len(parts) % 2 == 0):
            errors.add(
                where,
                f"expected 5 values 'class cx cy w h' (or a polygon 'class x1 y1 x2 y2 x3 y3 ...'), "
                f"got {len(parts)}: {line.strip()!r}",
            )
            continue
        try:
            values = [float(v) for v in parts]
        except ValueError:
            errors.add(where, f"not a number in {line.strip()!r}")
            continue
        cls = values[0]
        if not cls.is_integer():
            errors.add(where, f"class id must be an integer, got {parts[0]}")
            continue
        if not 0 <= cls < nc:
            errors.add(
                where,
                f"class id {int(cls)} is out of range: the dataset names {nc} classes (ids 0-{nc - 1})",
            )
            continue
        coords = values[1:]
        if not all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in coords):
            errors.add(where, f"coordinates must be normalised to [0, 1], got {' '.join(parts[1:])}")
            continue
        if len(parts) == 5 and (coords[2] <= 0 or coords[3] <= 0):
            errors.add(where, f"box has zero width or height: {' '.join(parts[1:])}")
            continue
        counts[int(cls)] = counts.get(int(cls), 0) + 1
        n += 1
    return n, raw


def _orphan_labels(src: Path, images: list[Path], errors: _Errors) -> None:
    """A label file in a split directory without its image: a renamed or deleted image (a missing image)."""
    if not src.is_dir():
        return
    labels_dir = label_path(src / "x.jpg").parent
    if labels_dir == src or not labels_dir.is_dir():
        return
    have = {label_path(p) for p in images}
    for lab in sorted(labels_dir.rglob("*.txt")):
        if lab.name != "classes.txt" and lab not in have:
            errors.add(str(lab), f"no image for this label file (expected {lab.stem}.<jpg|png|...> in {src})")


def load_data_yaml(
    path: str | Path, check_images: bool = True, labelled: tuple[str, ...] = REQUIRED
) -> DataSpec:
    """Parse and check ``data.yaml`` and every label it points to; raises DataError listing all problems.

    ``labelled``: the splits that must hold at least one object (training: train and val; evaluation: the
    evaluated split).
    """
    yaml_path = Path(path).expanduser().resolve()
    data, lines = _load_yaml(yaml_path)

    def at(key: str) -> str:
        return f"{yaml_path}:{lines[key]}" if key in lines else str(yaml_path)

    errors = _Errors()
    names = _names(data, at, errors)
    root = _root(data, yaml_path)
    sources: dict[str, list[str]] = {}
    for split in SPLITS:
        value = data.get(split)
        if value in (None, "", []):
            if split in REQUIRED:
                errors.add(
                    at(split), f"no '{split}:' split (train: and val: are required, test: is optional)"
                )
            continue
        srcs = []
        for v in value if isinstance(value, list) else [value]:
            p = _resolve(root, str(v))
            if not p.exists():
                errors.add(at(split), f"{split}: {p} does not exist")
            else:
                srcs.append(p)
        if srcs:
            sources[split] = [str(p) for p in srcs]
    errors.raise_if_any(yaml_path)  # nothing below makes sense without names and existing splits

    nc = len(names)
    digest = hashlib.sha256()
    digest.update(repr(sorted(names.items())).encode())
    splits: dict[str, SplitInfo] = {}
    class_counts: dict[str, dict[str, int]] = {}
    for split, srcs in sources.items():
        images: list[Path] = []
        for src in map(Path, srcs):
            found = _list_images(src, at(split), errors)
            if not found:
                errors.add(at(split), f"{split}: no images in {src}")
            _orphan_labels(src, found, errors)
            images += found
        images = sorted(set(images), key=str)
        instances = backgrounds = 0
        counts: dict[int, int] = {}
        digest.update(f"\n[{split}]\n".encode())
        for img in images:
            if check_images:
                _check_image(img, errors)
            lab = label_path(img)
            n, raw = _check_label(lab, nc, errors, counts) if lab.is_file() else (0, b"")
            instances += n
            backgrounds += n == 0
            rel = os.path.relpath(img, root)
            digest.update(f"{rel}\t{hashlib.sha256(raw).hexdigest() if lab.is_file() else '-'}\n".encode())
        if images and instances == 0 and split in labelled:
            example = label_path(images[0])
            errors.add(
                at(split),
                f"{split}: every label file is empty or missing ({len(images)} images, e.g. {example}); "
                "an empty label file is a background image, so there is nothing to "
                + ("learn from" if split == "train" else "measure against"),
            )
        splits[split] = SplitInfo(tuple(images), instances, backgrounds)
        class_counts[split] = {names[c]: counts.get(c, 0) for c in range(nc)}
    errors.raise_if_any(yaml_path)
    return DataSpec(
        yaml_path=yaml_path,
        root=root,
        names=names,
        sources=sources,
        splits=splits,
        fingerprint=f"sha256:{digest.hexdigest()}",
        class_counts=class_counts,
    )
