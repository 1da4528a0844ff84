"""Synthetic parts with known defects: the demo camera and the source of the default model's data.

Every frame is a pure function of ``(seed, index)`` and the generator's parameters, whatever order frames
are asked for in: each frame draws from its own numpy Generators seeded by ``(seed, stream, index)``, and
the cached layouts are themselves pure functions of ``(seed, layout number)``. Defects use a stream of
their own, so ``generate(i, with_defects=False)`` is the very same frame without them (tests use this to
prove each truth box covers what changed).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from inspect_app.synth.layouts import AA, Layout, pcb_layout, surface_layout
from inspect_app.types import TruthBox

CLASS_NAMES = ("scratch", "pit", "open", "short")
STYLE_CLASSES: dict[str, tuple[int, ...]] = {"pcb": (0, 1, 2, 3), "surface": (0, 1)}
Style = Literal["pcb", "surface"]
IntBox = tuple[int, int, int, int]  # x1, y1, x2, y2 on pixel edges

_LAYOUT, _FRAME, _DEFECT, _NOISE = 11, 12, 13, 14  # stream keys of the seed sequences
_NOISE_PAD = 64
_NOISE_SIGMA = 3.0


@dataclass(frozen=True, slots=True)
class SyntheticPart:
    image: np.ndarray  # HxWx3 uint8 BGR
    truth: tuple[TruthBox, ...]
    index: int
    seed: int


@dataclass(slots=True)
class _Plan:
    """One defect before it is painted: blend layers over one region, and the box they change."""

    class_id: int
    x0: int
    y0: int
    layers: list[tuple[np.ndarray, np.ndarray]]  # (alpha hxw float32, target hxwx3 float32)
    box: IntBox


def _rng(seed: int, stream: int, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed % 2**64, stream, index % 2**64]))


def _roi(w: int, h: int, x0: float, y0: float, x1: float, y1: float) -> IntBox | None:
    xa, ya = max(0, math.floor(x0)), max(0, math.floor(y0))
    xb, yb = min(w, math.ceil(x1) + 1), min(h, math.ceil(y1) + 1)
    return (xa, ya, xb, yb) if xb - xa >= 2 and yb - ya >= 2 else None


def _make_plan(class_id: int, x0: int, y0: int, layers: list[tuple[np.ndarray, np.ndarray]]) -> _Plan | None:
    """Drop faint alpha (it would change a pixel by a level or two outside any sensible box), then box."""
    hit = np.zeros(layers[0][0].shape, bool)
    for alpha, _ in layers:
        alpha[alpha < 0.06] = 0.0
        hit |= alpha > 0
    ys, xs = np.nonzero(hit)
    if xs.size == 0:
        return None
    return _Plan(class_id, x0, y0, layers, (x0 + int(xs.min()), y0 + int(ys.min()),
                                            x0 + int(xs.max()) + 1, y0 + int(ys.max()) + 1))


def _poly_alpha(shape: tuple[int, int], pts: np.ndarray, blur: bool) -> np.ndarray:
    m = np.zeros(shape, np.uint8)
    cv2.fillPoly(m, [np.round(pts * 8).astype(np.int32)], 255, AA, shift=3)
    a = m.astype(np.float32) / 255
    return cv2.GaussianBlur(a, (3, 3), 0.7) if blur else a


_CACHED_LAYOUTS = 64  # ~100 MB of rendered 640x640 boards


class PartGenerator:
    """Renders synthetic parts; ``layouts`` distinct boards/surfaces per seed, each seen in four flips."""

    def __init__(self, style: Style = "pcb", width: int = 640, height: int = 640, seed: int = 0,
                 defect_rate: float = 0.3, *, layouts: int = 16, zoom: float = 1.0) -> None:
        if style not in STYLE_CLASSES:
            raise ValueError(f"style must be one of {sorted(STYLE_CLASSES)}, not {style!r}")
        if width < 64 or height < 64:
            raise ValueError(f"frames must be at least 64x64 pixels, not {width}x{height}")
        if not 0.25 <= zoom <= 8.0:
            raise ValueError(f"zoom must be between 0.25 and 8, not {zoom}")
        if not 0.0 <= defect_rate <= 1.0:
            raise ValueError(f"defect_rate must be between 0 and 1, not {defect_rate}")
        self.style: Style = style
        self.width, self.height, self.seed = width, height, seed
        self.defect_rate = defect_rate
        self.layouts = max(1, layouts)
        self.classes = STYLE_CLASSES[style]
        self.zoom = zoom
        self._scale = min(width, height) / 640 * zoom
        self._cache: OrderedDict[int, Layout] = OrderedDict()  # LRU: a dataset may use thousands of boards
        self._noise: np.ndarray | None = None

    # ------------------------------------------------------------------ public
    def generate(self, index: int, *, with_defects: bool = True) -> SyntheticPart:
        w, h = self.width, self.height
        frng = _rng(self.seed, _FRAME, index)
        lay = self.layout(int(frng.integers(self.layouts)))
        # turns, not mirror flips: mirrored silkscreen text would be a tell no real board has
        turns = int(frng.integers(4)) if w == h else 2 * int(frng.integers(2))
        img = lay.image.copy()
        plans = self._defects(_rng(self.seed, _DEFECT, index), lay, img) if with_defects else []
        truth = []
        for p in plans:
            for alpha, target in p.layers:
                ah, aw = alpha.shape
                roi = img[p.y0:p.y0 + ah, p.x0:p.x0 + aw]
                a = alpha[..., None]
                roi[:] = np.clip(roi * (1 - a) + target * a + 0.5, 0, 255).astype(np.uint8)
            x1, y1, x2, y2 = _turn_box(p.box, w, h, turns)
            box = (float(x1), float(y1), float(x2), float(y2))
            truth.append(TruthBox(p.class_id, CLASS_NAMES[p.class_id], box))
        if turns:
            img = np.rot90(img, turns)
        return SyntheticPart(self._finish(img, frng), tuple(truth), index, self.seed)

    def layout(self, number: int) -> Layout:
        """The still part of frames that use layout ``number``; rendered once, then cached."""
        lay = self._cache.get(number)
        if lay is None:
            make = pcb_layout if self.style == "pcb" else surface_layout
            lay = self._cache[number] = make(_rng(self.seed, _LAYOUT, number), self.width, self.height,
                                             self.zoom)
            if len(self._cache) > _CACHED_LAYOUTS:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(number)
        return lay

    # ------------------------------------------------------------------ frame
    def _finish(self, img: np.ndarray, frng: np.random.Generator) -> np.ndarray:
        """Uneven light and sensor noise, the part of a frame that differs on every shot."""
        h, w = img.shape[:2]
        if self._noise is None:
            nrng = _rng(self.seed, _NOISE, 0)
            noise = nrng.standard_normal((h + _NOISE_PAD, w + _NOISE_PAD, 3), np.float32) * _NOISE_SIGMA
            self._noise = np.clip(np.round(noise), -127, 127).astype(np.int8)
        gy, gx = np.mgrid[0:1:9j, 0:1:9j].astype(np.float32)
        tilt = 0.14 if self.style == "pcb" else 0.25
        cx, cy = frng.uniform(0.2, 0.8, 2)
        grid = (1 + frng.uniform(-0.1, 0.08) + frng.uniform(-tilt, tilt) * (gx - 0.5)
                + frng.uniform(-tilt, tilt) * (gy - 0.5)
                - frng.uniform(0, 0.3) * ((gx - cx) ** 2 + (gy - cy) ** 2))
        gain = cv2.resize(grid.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
        colour = (1 + frng.normal(0, 0.025, 3)).astype(np.float32)
        oy, ox = (int(v) for v in frng.integers(0, _NOISE_PAD, 2))
        out = img * cv2.merge([gain * c for c in colour])
        out += self._noise[oy:oy + h, ox:ox + w]
        return np.clip(out, 0, 255, out=out).astype(np.uint8)

    # ------------------------------------------------------------------ defects
    def _defects(self, rng: np.random.Generator, lay: Layout, img: np.ndarray) -> list[_Plan]:
        if rng.random() >= self.defect_rate:
            return []
        makers: dict[int, Callable[[np.random.Generator, Layout, np.ndarray], _Plan | None]] = {
            0: self._scratch, 1: self._pit, 2: self._open, 3: self._short}
        plans: list[_Plan] = []
        margin = max(2, round(4 * self._scale))
        for _ in range(int(rng.integers(1, 4))):
            # the class is drawn once, so classes that are harder to place keep their share
            cls = int(rng.choice(self.classes))
            for attempt in range(40 if not plans else 10):
                # a layout with no room for this class falls back to a pit rather than leave the part clean
                plan = makers[cls if attempt < 10 else 1](rng, lay, img)
                if plan is None or _overlaps(plan.box, [p.box for p in plans], margin):
                    continue
                if lay.keepout is not None:
                    x1, y1, x2, y2 = plan.box
                    if lay.keepout[y1:y2, x1:x2].any():
                        continue
                plans.append(plan)
                break
        return plans

    def _scratch(self, rng: np.random.Generator, lay: Layout, img: np.ndarray) -> _Plan | None:
        s, (h, w) = self._scale, img.shape[:2]
        length = max(8.0, rng.uniform(22, 60) * s)
        # never near an axis: a scratch whose box is a sliver is as hard to learn as to label
        ang = rng.uniform(0.3, math.pi / 2 - 0.3) + (math.pi / 2 if rng.random() < 0.5 else 0)
        half = length / 2 + 4
        cx, cy = rng.uniform(half, w - half), rng.uniform(half, h - half)
        d, nrm = np.array([math.cos(ang), math.sin(ang)]), np.array([-math.sin(ang), math.cos(ang)])
        t = np.linspace(-0.5, 0.5, 6)[:, None]
        pts = np.array([cx, cy]) + t * length * d + (1 - 4 * t**2) * rng.uniform(-0.1, 0.1) * length * nrm
        th = max(1, round(rng.uniform(1.6, 3.0) * s if self.style == "pcb" else rng.uniform(1.2, 2.6) * s))
        roi = _roi(w, h, *(pts.min(0) - th - 2), *(pts.max(0) + th + 2))
        if roi is None:
            return None
        xa, ya, xb, yb = roi
        m = np.zeros((yb - ya, xb - xa), np.uint8)
        cv2.polylines(m, [np.round((pts - (xa, ya)) * 8).astype(np.int32)], False, 255, th, AA, shift=3)
        # a real scratch tapers off at its ends and is uneven along its length
        yy, xx = np.mgrid[ya:yb, xa:xb].astype(np.float32)
        along = ((xx - cx) * d[0] + (yy - cy) * d[1]) / length
        ripple = 0.8 + 0.2 * np.sin(along * rng.uniform(8, 20) + rng.uniform(0, 6.3))
        fade = np.clip((0.5 - np.abs(along)) * 8, 0.35, 1) * ripple * rng.uniform(0.6, 0.9)
        alpha = m.astype(np.float32) / 255 * fade.astype(np.float32)
        base = img[ya:yb, xa:xb].astype(np.float32)
        # on a dark part a scratch shows the lighter material beneath
        bright = base.mean() < 80 or rng.random() < (0.5 if self.style == "pcb" else 0.7)
        target = base * 0.35 + np.float32(130 + 0.45 * base.mean()) if bright else base * 0.3
        return _make_plan(0, xa, ya, [(alpha, target)])

    def _pit(self, rng: np.random.Generator, lay: Layout, img: np.ndarray) -> _Plan | None:
        s, (h, w) = self._scale, img.shape[:2]
        r = max(2.5, rng.uniform(5, 11) * s)
        cx, cy = rng.uniform(r + 4, w - r - 4), rng.uniform(r + 4, h - r - 4)
        roi = _roi(w, h, cx - r - 3, cy - r - 3, cx + r + 3, cy + r + 3)
        if roi is None:
            return None
        xa, ya, xb, yb = roi
        shape = (yb - ya, xb - xa)
        core = np.zeros(shape, np.uint8)
        axes = (round(r * 8), round(r * rng.uniform(0.7, 1.0) * 8))
        centre = (round((cx - xa) * 8), round((cy - ya) * 8))
        ang = float(rng.uniform(0, 180))
        cv2.ellipse(core, centre, axes, ang, 0, 360, 255, -1, AA, shift=3)
        dark = cv2.GaussianBlur(core.astype(np.float32) / 255, (0, 0), max(0.6, r * 0.22)) * 0.95
        rim = np.zeros(shape, np.uint8)
        lit = float(rng.uniform(0, 360))  # the crater's far wall catches the light
        base = img[ya:yb, xa:xb].astype(np.float32)
        # the lit rim is what shows a pit on a dark part, where darkening it further hardly shows
        dim = base.mean() < 80
        cv2.ellipse(rim, centre, axes, ang, lit - ang - 70, lit - ang + 70, 255,
                    max(2 if dim else 1, round(r * 0.22)), AA, 3)
        rim_a = cv2.GaussianBlur(rim.astype(np.float32) / 255, (3, 3), 0.8) * (0.85 if dim else 0.45)
        layers = [(dark, base * 0.18 + 8), (rim_a, base * 0.35 + 160)]
        return _make_plan(1, xa, ya, layers)

    def _open(self, rng: np.random.Generator, lay: Layout, img: np.ndarray) -> _Plan | None:
        if not lay.runs or lay.bare is None or lay.copper is None:
            return None
        s, (h, w) = self._scale, img.shape[:2]
        run = lay.runs[int(rng.integers(len(lay.runs)))]
        gl = max(3.0, rng.uniform(9, 20) * s)
        if run.hi - run.lo < 2 * gl + 2:
            return None
        p = rng.uniform(run.lo + gl, run.hi - gl)
        half = run.width / 2 + 3
        v = np.linspace(run.center - half, run.center + half, 5)
        # ragged etched edges across the trace
        left = np.stack([p - gl / 2 + rng.uniform(-0.2, 0.2, 5) * gl, v], 1)
        right = np.stack([p + gl / 2 + rng.uniform(-0.2, 0.2, 5) * gl, v[::-1]], 1)
        return self._region(2, lay, img, np.concatenate([left, right]), run.horizontal, w, h)

    def _short(self, rng: np.random.Generator, lay: Layout, img: np.ndarray) -> _Plan | None:
        if not lay.gaps or lay.bare is None or lay.copper_colour is None:
            return None
        s, (h, w) = self._scale, img.shape[:2]
        gap = lay.gaps[int(rng.integers(len(lay.gaps)))]
        bw = max(3.0, rng.uniform(8, 16) * s)
        if gap.hi - gap.lo < 2 * bw + 2:
            return None
        p = rng.uniform(gap.lo + bw, gap.hi - bw)
        ov = max(1.0, min(0.35 * gap.width, 3 * s))
        v = np.linspace(gap.edge_lo - ov, gap.edge_hi + ov, 5)
        neck = np.array([0, 0.5, 1, 0.5, 0]) * rng.uniform(0, 0.3) * bw  # solder/copper bridges pinch
        left = np.stack([p - bw / 2 + neck + rng.uniform(-0.1, 0.1, 5) * bw, v], 1)
        right = np.stack([p + bw / 2 - neck + rng.uniform(-0.1, 0.1, 5) * bw, v], 1)[::-1]
        return self._region(3, lay, img, np.concatenate([left, right]), gap.horizontal, w, h)

    def _region(self, class_id: int, lay: Layout, img: np.ndarray, uv: np.ndarray, horizontal: bool,
                w: int, h: int) -> _Plan | None:
        """Paint a polygon given along/across a trace: an open lays bare board, a short adds copper."""
        xy = uv if horizontal else uv[:, ::-1]
        roi = _roi(w, h, *(xy.min(0) - 2), *(xy.max(0) + 2))
        assert lay.bare is not None and lay.copper is not None and lay.copper_colour is not None
        if roi is None:
            return None
        xa, ya, xb, yb = roi
        alpha = _poly_alpha((yb - ya, xb - xa), xy - (xa, ya), blur=True)
        bare = lay.bare[ya:yb, xa:xb].astype(np.float32)
        if class_id == 2:
            alpha *= lay.copper[ya:yb, xa:xb]  # only copper can go missing
            return _make_plan(2, xa, ya, [(alpha, bare)])
        # the bridge is only painted off the traces it joins, so its box is the bridge and not the traces
        core = cv2.erode(lay.copper[ya:yb, xa:xb].astype(np.uint8), np.ones((3, 3), np.uint8), iterations=2)
        alpha *= 1 - core
        mix = lay.trace_mix
        return _make_plan(3, xa, ya, [(alpha, bare * (1 - mix) + lay.copper_colour * mix)])


def _turn_box(box: IntBox, w: int, h: int, turns: int) -> IntBox:
    """Where a box lands after ``np.rot90(image, turns)`` (counter-clockwise quarter turns)."""
    x1, y1, x2, y2 = box
    for _ in range(turns):
        x1, y1, x2, y2, w, h = y1, w - x2, y2, w - x1, h, w
    return x1, y1, x2, y2


def _overlaps(box: IntBox, others: Sequence[IntBox], margin: int) -> bool:
    return any(box[0] < o[2] + margin and o[0] < box[2] + margin and box[1] < o[3] + margin
               and o[1] < box[3] + margin for o in others)


def to_yolo_labels(truth: Sequence[TruthBox], width: int, height: int) -> list[str]:
    """YOLO label lines ``cls cx cy w h``, normalised to the image and clipped to it."""
    lines = []
    for t in truth:
        x1, y1, x2, y2 = (min(max(v, 0.0), lim) for v, lim in zip(t.box, (width, height) * 2, strict=True))
        lines.append(f"{t.class_id} {(x1 + x2) / 2 / width:.6f} {(y1 + y2) / 2 / height:.6f} "
                     f"{(x2 - x1) / width:.6f} {(y2 - y1) / height:.6f}")
    return lines


def from_yolo_labels(lines: Sequence[str], width: int, height: int) -> tuple[TruthBox, ...]:
    """The inverse of ``to_yolo_labels`` (to within the 6 decimals), for evaluation and tests."""
    out = []
    for line in lines:
        if not line.strip():
            continue
        c, cx, cy, bw, bh = line.split()
        cls, fx, fy = int(c), float(cx) * width, float(cy) * height
        fw, fh = float(bw) * width / 2, float(bh) * height / 2
        out.append(TruthBox(cls, CLASS_NAMES[cls], (fx - fw, fy - fh, fx + fw, fy + fh)))
    return tuple(out)
