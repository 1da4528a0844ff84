"""``inspect-app dataset from-reviews``: reviewed results as a YOLO dataset, labels corrected by people.

Each reviewed inspection whose image is still on disk becomes one training image. Its labels start from
what the model reported (the ``detections`` rows) and the reviews are applied in the order they were made:

* ``false_reject`` with a box drops the detection(s) of that class overlapping it (IoU >= 0.5); without a
  box it drops every detection (of ``class_name`` when given): "nothing wrong with this part".
* ``missed_defect`` adds the drawn box with its class.
* ``confirmed_defect`` keeps the detection (and puts it back if an earlier review dropped it).

Layout as ``dataset synth`` writes it: ``images/{train,val}``, ``labels/{train,val}``, ``data.yaml``. Class
ids are the model's (``--names``, else the project's class list or the ids the detections table holds), so
the export merges with the training data of the same model family. Reads the DB read-only.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import cv2

from inspect_app.store.read import ResultsReader, ReviewRecord
from inspect_app.store.reports import parse_when
from inspect_app.store.schema import StoreError
from inspect_app.types import Box, iou

MATCH_IOU = 0.5
VAL_EVERY = 5  # every 5th reviewed image (by inspection id) goes to val: stable across re-exports


@dataclass(frozen=True, slots=True)
class Label:
    class_name: str
    box: Box


@dataclass(frozen=True, slots=True)
class ExportSummary:
    out: Path
    images: dict[str, int]  # per split
    labels: dict[str, int]  # per class
    skipped: dict[str, int]  # inspection id -> reason count, e.g. {"image deleted": 3}

    def line(self) -> str:
        splits = ", ".join(f"{k} {v}" for k, v in self.images.items())
        labels = ", ".join(f"{k} {v}" for k, v in sorted(self.labels.items())) or "none"
        skipped = ", ".join(f"{v} {k}" for k, v in self.skipped.items())
        n = sum(self.images.values())
        tail = f"; skipped: {skipped}" if skipped else ""
        return f"wrote {n} reviewed images to {self.out} ({splits}); labels: {labels}{tail}"


def corrected_labels(detections: list[Label], reviews: list[ReviewRecord]) -> list[Label]:
    """Apply reviews (oldest first) to the model's detections; see the module docstring."""
    labels = list(detections)
    for r in reviews:
        cls, box = r.class_name, r.box

        def hit(lab: Label, cls: str | None = cls, box: Box | None = box) -> bool:
            same_class = cls is None or lab.class_name == cls
            return same_class and (box is None or iou(lab.box, box) >= MATCH_IOU)

        if r.kind == "false_reject":
            labels = [lab for lab in labels if not hit(lab)]
        elif r.kind == "missed_defect" and box is not None and cls is not None:
            labels.append(Label(cls, box))
        elif r.kind == "confirmed_defect":
            back = [d for d in detections if hit(d) and d not in labels]
            if box is not None and cls is not None and not any(hit(d) for d in detections):
                back.append(Label(cls, box))
            labels += back
    return labels


def class_names(reader: ResultsReader) -> list[str]:
    """The model's class list: the project's shared numbering (``synth.generator.CLASS_NAMES``) when the
    detections table agrees with it, else the ids and names the table shows."""
    from inspect_app.synth.generator import CLASS_NAMES

    by_id: dict[int, str] = {}
    for cid, names in sorted(reader.class_ids().items()):
        if len(names) > 1:
            raise ValueError(f"class id {cid} is {' and '.join(sorted(map(repr, names)))} in the detections "
                             "(several models?); give the class list with --names")
        by_id[cid] = next(iter(names))
    if all(i < len(CLASS_NAMES) and CLASS_NAMES[i] == n for i, n in by_id.items()):
        return list(CLASS_NAMES)
    return [by_id.get(i, f"class_{i}") for i in range(max(by_id) + 1)]


def export_reviews(db_path: str | Path, out: str | Path, since: datetime | None = None,
                   names: list[str] | None = None, overwrite: bool = False) -> ExportSummary:
    db_path = Path(db_path)
    with ResultsReader(db_path) as reader:
        return _export(reader, db_path.resolve().parent, Path(out).resolve(), since, names, overwrite)


def _export(reader: ResultsReader, base: Path, out: Path, since: datetime | None,
            names: list[str] | None, overwrite: bool) -> ExportSummary:
    names = names or class_names(reader)
    reviews: dict[int, list[ReviewRecord]] = {}
    for r in reader.reviews(since_epoch=since.timestamp() if since else None):
        reviews.setdefault(r.inspection_id, []).append(r)
    ids = sorted(reviews)
    unknown = sorted({r.class_name for rs in reviews.values() for r in rs
                      if r.class_name is not None and r.class_name not in names})
    if unknown:
        raise ValueError(f"reviewed classes {', '.join(unknown)} are not in the class list "
                         f"({', '.join(names) or 'empty'}); give it with --names")
    _prepare_out(out, overwrite)
    images: Counter[str] = Counter()
    labels: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    for k, iid in enumerate(ids):
        rec = reader.inspection(iid)
        if rec is None:
            skipped["inspection missing"] += 1
            continue
        if not rec.image_kept or rec.image_path is None:
            skipped["image not kept"] += 1
            continue
        src = base / rec.image_path
        img = cv2.imread(str(src), cv2.IMREAD_UNCHANGED)
        if img is None:
            skipped["image unreadable"] += 1
            continue
        h, w = img.shape[:2]
        dets = [Label(d.class_name, d.box) for d in rec.detections or ()]
        fixed = corrected_labels(dets, reviews[iid])
        split = "val" if k % VAL_EVERY == VAL_EVERY - 1 else "train"
        stem = f"{iid:010d}"
        shutil.copyfile(src, out / "images" / split / f"{stem}{src.suffix}")
        lines = "".join(_yolo_line(lab, names, w, h) for lab in fixed)
        (out / "labels" / split / f"{stem}.txt").write_text(lines)
        images[split] += 1
        labels.update(lab.class_name for lab in fixed)
    if images and not images["val"]:
        # YOLO needs a val split: with very few images, validate on the training images
        (out / "images" / "val").rmdir()
        (out / "labels" / "val").rmdir()
    (out / "data.yaml").write_text(_data_yaml(out, names, bool(images["val"])))
    return ExportSummary(out, {"train": images["train"], "val": images["val"]}, dict(labels), dict(skipped))


def _yolo_line(lab: Label, names: list[str], w: int, h: int) -> str:
    x1, y1, x2, y2 = (max(0.0, min(v, lim)) for v, lim in zip(lab.box, (w, h, w, h), strict=True))
    return (f"{names.index(lab.class_name)} {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} "
            f"{(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}\n")


def _prepare_out(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise FileExistsError(f"{out} is not empty; choose an empty directory or pass --overwrite")
        for sub in ("images", "labels"):  # only what an export consists of
            if (out / sub).is_dir():
                shutil.rmtree(out / sub)
        (out / "data.yaml").unlink(missing_ok=True)
    for sub in ("images", "labels"):
        for split in ("train", "val"):
            (out / sub / split).mkdir(parents=True, exist_ok=True)


def _data_yaml(out: Path, names: list[str], has_val: bool) -> str:
    lines = [
        "# Reviewed station images with corrected labels (inspect-app dataset from-reviews; regenerate)",
        f"path: {json.dumps(str(out))}",
        "train: images/train",
        f"val: images/{'val' if has_val else 'train'}",
        f"nc: {len(names)}",
        "names:",
        *(f"  {i}: {json.dumps(n)}" for i, n in enumerate(names)),
    ]
    return "\n".join(lines) + "\n"


def add_from_reviews_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True, help="dataset directory (must be empty)")
    parser.add_argument("--db", type=Path, default=Path("var/results.db"), help="results database")
    parser.add_argument("--since", type=parse_when, help="only reviews since: ISO time or age such as 7d")
    parser.add_argument("--names", help="comma-separated class list (default: as the detections table shows)")
    parser.add_argument("--overwrite", action="store_true", help="replace an export already in --out")


def cli_from_reviews(args: argparse.Namespace) -> int:
    names = [n.strip() for n in args.names.split(",")] if args.names else None
    try:
        summary = export_reviews(args.db, args.out, args.since, names, args.overwrite)
    except (ValueError, OSError, StoreError, sqlite3.Error) as exc:
        print(f"inspect-app dataset from-reviews: {exc}", file=sys.stderr)
        return 2
    print(summary.line())
    return 0
