"""Write synthetic parts as an ultralytics YOLO detection dataset.

Layout: ``images/{train,val,test}/NAME.jpg``, ``labels/{train,val,test}/NAME.txt`` (empty for a clean
part, which YOLO reads as a background image) and ``data.yaml``. The YAML is written by hand, so the
station runtime needs no YAML library to make a dataset.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import cv2

from inspect_app.synth.generator import CLASS_NAMES, STYLE_CLASSES, PartGenerator, Style, to_yolo_labels

SPLITS = ("train", "val", "test")
JPEG_QUALITY = 95
# Distinct boards: at least one per two images. With 32 boards per seed, a model scored mAP50 0.98 on the
# val split (same boards) and 0.50 on a fresh seed: it had learnt the boards, not the defects.
MIN_DATASET_LAYOUTS = 32


@dataclass(frozen=True, slots=True)
class DatasetSummary:
    out: Path
    data_yaml: Path
    images: dict[str, int]  # per split
    instances: dict[str, int]  # per class name, all splits
    clean: int  # images without any defect

    def line(self) -> str:
        splits = ", ".join(f"{k} {v}" for k, v in self.images.items())
        classes = ", ".join(f"{k} {v}" for k, v in self.instances.items())
        return (
            f"wrote {sum(self.images.values())} images to {self.out} ({splits}); "
            f"defects: {classes}; clean images: {self.clean}"
        )


def split_counts(n: int, splits: tuple[float, float, float]) -> dict[str, int]:
    """Images per split; train and val always get at least one image (YOLO needs both)."""
    if len(splits) != 3 or any(f < 0 for f in splits) or abs(sum(splits) - 1.0) > 1e-6:
        raise ValueError(f"splits must be three non-negative fractions summing to 1, not {splits}")
    if splits[0] == 0 or splits[1] == 0:
        raise ValueError("the train and val fractions must be above 0")
    if n < 2:
        raise ValueError(f"n must be at least 2 (one train and one val image), not {n}")
    val = max(1, math.floor(n * splits[1] + 0.5))  # half up: round() would give 0.5 -> 0
    test = min(math.floor(n * splits[2] + 0.5), n - val - 1)
    return {"train": n - val - test, "val": val, "test": test}


def _clear(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise FileExistsError(
                f"{out} is not empty; choose an empty directory or pass overwrite=True "
                "(--overwrite) to replace the dataset in it"
            )
        # only what a dataset consists of: never wipe a directory the user pointed at by mistake
        for sub in ("images", "labels"):
            if (out / sub).is_dir():
                shutil.rmtree(out / sub)
        (out / "data.yaml").unlink(missing_ok=True)


def write_dataset(
    out: Path,
    n: int,
    seed: int,
    style: Style = "pcb",
    width: int = 640,
    height: int = 640,
    defect_rate: float = 0.7,
    splits: tuple[float, float, float] = (0.8, 0.1, 0.1),
    image_ext: str = "jpg",
    overwrite: bool = False,
    zoom: float = 1.0,
) -> DatasetSummary:
    """Render parts ``0..n-1`` of ``PartGenerator(style, width, height, seed, defect_rate, zoom=zoom)``."""
    if image_ext not in ("jpg", "png"):
        raise ValueError(f"image_ext must be 'jpg' or 'png', not {image_ext!r}")
    counts = split_counts(n, tuple(splits))  # type: ignore[arg-type]
    layouts = max(MIN_DATASET_LAYOUTS, n // 2)
    gen = PartGenerator(style, width, height, seed, defect_rate, layouts=layouts, zoom=zoom)
    out = Path(out).resolve()
    _clear(out, overwrite)
    for split in SPLITS:
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "labels" / split).mkdir(parents=True, exist_ok=True)
    params = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY] if image_ext == "jpg" else []
    instances: Counter[str] = Counter()
    clean = 0
    index = 0
    for split in SPLITS:
        for _ in range(counts[split]):
            part = gen.generate(index)
            name = f"synth_{seed}_{index:06d}"
            image_path = out / "images" / split / f"{name}.{image_ext}"
            if not cv2.imwrite(str(image_path), part.image, params):
                raise OSError(f"cannot write {image_path}")
            lines = to_yolo_labels(part.truth, width, height)
            (out / "labels" / split / f"{name}.txt").write_text("".join(f"{ln}\n" for ln in lines))
            instances.update(t.class_name for t in part.truth)
            clean += not part.truth
            index += 1
    data_yaml = out / "data.yaml"
    data_yaml.write_text(
        _data_yaml(
            out,
            counts,
            seed=seed,
            style=style,
            n=n,
            width=width,
            height=height,
            zoom=zoom,
            defect_rate=defect_rate,
        )
    )
    names = [CLASS_NAMES[c] for c in STYLE_CLASSES[style]]
    return DatasetSummary(out, data_yaml, counts, {k: instances.get(k, 0) for k in names}, clean)


def _data_yaml(out: Path, counts: dict[str, int], **params: object) -> str:
    # json.dumps gives a double-quoted string that YAML reads back unchanged, whatever the path holds.
    # All four names are kept for a surface dataset too, so every model shares one class numbering.
    lines = [
        "# Synthetic defect dataset written by inspect_app.synth.dataset (regenerate, do not edit)",
        f"# generator: {', '.join(f'{k}={v}' for k, v in params.items())}",
        f"path: {json.dumps(str(out))}",
        "train: images/train",
        "val: images/val",
    ]
    if counts["test"]:
        lines.append("test: images/test")
    lines.append(f"nc: {len(CLASS_NAMES)}")
    lines.append("names:")
    lines += [f"  {i}: {name}" for i, name in enumerate(CLASS_NAMES)]
    lines.append("synth:")
    lines += [f"  {k}: {json.dumps(v)}" for k, v in params.items()]
    return "\n".join(lines) + "\n"


def add_synth_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``inspect-app dataset synth``."""
    parser.add_argument("--out", type=Path, required=True, help="dataset directory (must be empty)")
    parser.add_argument("--n", type=int, required=True, help="number of images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--style", choices=sorted(STYLE_CLASSES), default="pcb")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=640)
    parser.add_argument("--defect-rate", type=float, default=0.7, help="fraction of parts with defects")
    parser.add_argument(
        "--zoom", type=float, default=1.0, help="camera magnification (2 = features twice as large)"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace a dataset already in --out")


def cli_synth(args: argparse.Namespace) -> int:
    try:
        summary = write_dataset(
            args.out,
            args.n,
            args.seed,
            style=args.style,
            width=args.width,
            height=args.height,
            defect_rate=args.defect_rate,
            zoom=args.zoom,
            overwrite=getattr(args, "overwrite", False),
        )
    except (ValueError, OSError) as exc:
        print(f"inspect-app dataset synth: {exc}", file=sys.stderr)
        return 2
    print(summary.line())
    return 0
