"""The still parts of a synthetic frame: a PCB's board and copper, or a metal/plastic surface.

A layout is rendered once per (seed, layout number) and cached by the generator, so each frame only
costs its defects, lighting and noise. Layouts keep the geometry the defects need: straight trace runs
(where an ``open`` can break a trace) and the gaps between parallel runs (where a ``short`` can bridge).
All sizes are given for a 640-pixel frame and scaled by ``s = min(width, height) / 640 * zoom``: ``zoom``
is the camera's magnification (2 draws every feature twice as large, as a closer camera would see it).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import cv2
import numpy as np

AA = cv2.LINE_AA
# solder mask, BGR: mostly greens, some near-black boards
_MASK_COLOURS = ((40, 100, 28), (30, 78, 22), (55, 118, 45), (34, 58, 30), (36, 40, 34))
_PAD_FINISHES = ((70, 165, 205), (175, 180, 178), (60, 130, 190))  # ENIG gold, HASL tin, bare copper
_PLASTICS = ((48, 48, 50), (30, 31, 33), (150, 172, 188), (118, 74, 40), (196, 198, 192))


@dataclass(frozen=True, slots=True)
class Run:
    """A straight, axis-aligned stretch of a trace, clear of its pads and bends."""

    horizontal: bool
    center: int  # y of a horizontal run, x of a vertical one
    lo: int  # extent along the run
    hi: int
    width: int


@dataclass(frozen=True, slots=True)
class Gap:
    """The mask between two neighbouring parallel runs, over the length where both run side by side."""

    horizontal: bool
    edge_lo: int  # facing edges of the two traces, across the run
    edge_hi: int
    lo: int
    hi: int
    width: int  # trace width


@dataclass(frozen=True, slots=True)
class Layout:
    image: np.ndarray  # HxWx3 uint8, the part before defects, lighting and noise
    bare: np.ndarray | None  # pcb: the same board without traces, what an open lays bare
    copper: np.ndarray | None  # pcb: HxW bool, trace pixels (slightly dilated to catch blurred edges)
    copper_colour: np.ndarray | None  # pcb: BGR float32 of copper
    trace_mix: float  # how much copper shows through the mask over a trace
    keepout: np.ndarray | None  # surface: HxW bool, holes and grooves where no defect belongs
    runs: tuple[Run, ...] = ()
    gaps: tuple[Gap, ...] = ()


def smooth_noise(rng: np.random.Generator, h: int, w: int, cell: float) -> np.ndarray:
    """Unit-ish low-frequency noise: a coarse random grid upsampled, for mottling and uneven light."""
    g = rng.standard_normal((max(2, int(h / cell) + 2), max(2, int(w / cell) + 2))).astype(np.float32)
    return cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC)


def _free(occ: np.ndarray, x0: float, y0: float, x1: float, y1: float) -> bool:
    h, w = occ.shape
    xa, ya, xb, yb = max(0, int(x0)), max(0, int(y0)), min(w, math.ceil(x1)), min(h, math.ceil(y1))
    return xb > xa and yb > ya and not occ[ya:yb, xa:xb].any()


def _bus(rng: np.random.Generator, w: int, h: int, s: float, occ: np.ndarray, traces: np.ndarray,
         pads: np.ndarray) -> tuple[list[Run], list[Gap]] | None:
    """Try to route 2-5 parallel traces with an optional 45-degree jog; None when it would collide."""
    horizontal = bool(rng.random() < 0.5)
    big_u, big_v = (w, h) if horizontal else (h, w)
    n = int(rng.integers(2, 6))
    tw = max(2, round(float(rng.choice((8, 10, 12, 14))) * s))
    pitch = tw + max(3, round(rng.uniform(10, 18) * s))
    length = rng.uniform(0.35, 0.9) * big_u
    u0 = rng.uniform(-0.15 * big_u, big_u - 0.85 * length)  # a camera sees part of a board: runs may leave it
    u1 = u0 + length
    jog = rng.uniform(20, 90) * s if rng.random() < 0.6 else 0.0
    d = 1 if rng.random() < 0.5 else -1
    room = big_v - (n - 1) * pitch - jog - 24 * s
    if room <= 0:
        return None
    v0 = 12 * s + rng.uniform(0, room) + (jog if d < 0 else 0)
    ub = u0 + rng.uniform(0.3, 0.6) * length
    # neighbouring diagonals keep the same spacing only if each lane bends (sqrt2 - 1) * pitch earlier/later
    step = -d * pitch * (math.sqrt(2) - 1)
    pad_r = max(2, round(min(tw * 0.9, tw / 2 + pitch * 0.3)))
    clear = max(2, round(7 * s))
    lanes, terms = [], []
    for i in range(n):
        v = round(v0 + i * pitch)
        b = ub + i * step
        pts = [(u0, v), (b, v), (b + jog, v + d * jog), (u1, v + d * jog)] if jog else [(u0, v), (u1, v)]
        if jog and not (u0 + 3 * tw < b and b + jog < u1 - 3 * tw):
            return None
        lanes.append(pts)
        terms += [p for p in (pts[0], pts[-1]) if 0 < p[0] < big_u]

    def xy(pts: list[tuple[float, float]]) -> np.ndarray:
        a = np.array(pts, np.float64)
        return np.round(a if horizontal else a[:, ::-1]).astype(np.int32)

    cand = np.zeros_like(occ)
    cv2.polylines(cand, [xy(p) for p in lanes], False, 1, tw + 2 * clear)
    for t in terms:
        cv2.circle(cand, tuple(int(c) for c in xy([t])[0]), pad_r + clear, 1, -1)
    if (cand & occ).any():
        return None
    occ |= cand
    cv2.polylines(traces, [xy(p) for p in lanes], False, 255, tw, AA)
    for t in terms:
        cv2.circle(pads, tuple(int(c) for c in xy([t])[0]), pad_r, 255, -1, AA)

    runs: list[list[Run]] = []
    for pts in lanes:
        mine = []
        for k in range(0, len(pts), 2):  # straight pieces are points (0,1) and, after a jog, (2,3)
            (a, v), (b, _) = pts[k], pts[k + 1]
            lo = max(a, 0) + (pad_r + tw if a > 0 else tw) if k == 0 else a + 2 * tw
            hi = min(b, big_u) - (pad_r + tw if b < big_u else tw) if k + 2 == len(pts) else b - 2 * tw
            mine.append(Run(horizontal, int(v), round(lo), round(hi), tw) if hi - lo > 3 * tw else None)
        runs.append(mine)
    gaps = []
    for a_runs, b_runs in itertools.pairwise(runs):
        for ra, rb in zip(a_runs, b_runs, strict=True):
            if ra and rb and min(ra.hi, rb.hi) - max(ra.lo, rb.lo) > 3 * tw:
                edges = sorted((ra.center, rb.center))
                gaps.append(Gap(horizontal, edges[0] + tw // 2, edges[1] - (tw - tw // 2),
                                max(ra.lo, rb.lo), min(ra.hi, rb.hi), tw))
    return [r for lane in runs for r in lane if r], gaps


def _component(rng: np.random.Generator, w: int, h: int, s: float, occ: np.ndarray, pads: np.ndarray,
               silk: np.ndarray, bodies: tuple[np.ndarray, np.ndarray], ref: int) -> None:
    """An IC footprint or a two-pad passive, with its silkscreen outline, label and maybe its body."""
    ic = rng.random() < 0.4
    # built lying along x in local coordinates, then maybe turned by swapping x and y
    if ic:
        pp, n = rng.uniform(10, 16) * s, int(rng.integers(3, 9))
        pw, ph, bh = 0.55 * pp, rng.uniform(14, 20) * s, rng.uniform(36, 70) * s
        fw, fh = n * pp + 4 * s, bh + 2 * ph
        rects = [(4 * s + i * pp, y, pw, ph) for i in range(n) for y in (0.0, fh - ph)]
        body = (0.0, ph, fw, bh)
    else:
        pw, ph = rng.uniform(10, 16) * s, rng.uniform(12, 18) * s
        fw, fh = 2 * pw + rng.uniform(10, 22) * s, ph
        rects = [(0.0, 0.0, pw, ph), (fw - pw, 0.0, pw, ph)]
        body = (pw * 0.6, s, fw - pw * 1.2, fh - 2 * s)
    if rng.random() < 0.5:
        fw, fh = fh, fw
        rects = [(y, x, rh, rw) for x, y, rw, rh in rects]
        body = (body[1], body[0], body[3], body[2])
    x0, y0 = rng.uniform(8 * s, w - fw - 8 * s), rng.uniform(18 * s, h - fh - 8 * s)
    box = (x0 - 10 * s, y0 - 18 * s, x0 + fw + 10 * s, y0 + fh + 10 * s)
    if w - fw < 20 * s or h - fh < 30 * s or not _free(occ, *box):
        return
    occ[max(0, int(box[1])):int(box[3]) + 1, max(0, int(box[0])):int(box[2]) + 1] = 1
    for rx, ry, rw, rh in rects:
        cv2.rectangle(pads, (round(x0 + rx), round(y0 + ry)), (round(x0 + rx + rw), round(y0 + ry + rh)),
                      255, -1, AA)
    thick = max(1, round(2 * s))
    m5 = 5 * s
    outline = (round(x0 - m5), round(y0 - m5)), (round(x0 + fw + m5), round(y0 + fh + m5))
    cv2.rectangle(silk, *outline, 255, thick, AA)
    if ic:  # pin-1 mark
        cv2.circle(silk, (round(x0 - 1 * s), round(y0 - 11 * s)), max(1, round(2.5 * s)), 255, -1, AA)
    label = f"{'U' if ic else rng.choice(('R', 'C', 'D', 'L'))}{ref}"
    cv2.putText(silk, label, (round(x0 + 5 * s), round(y0 - 8 * s)), cv2.FONT_HERSHEY_SIMPLEX, 0.38 * s, 255,
                thick, AA)
    if rng.random() < 0.6:  # populated: a moulded body over the middle of the footprint
        colour = (28, 28, 30) if ic or rng.random() < 0.5 else (95, 140, 175)
        bx, by, bw, bh2 = body
        corners = (round(x0 + bx), round(y0 + by)), (round(x0 + bx + bw), round(y0 + by + bh2))
        cv2.rectangle(bodies[0], *corners, 255, -1, AA)
        cv2.rectangle(bodies[1], *corners, colour, -1)


def pcb_layout(rng: np.random.Generator, w: int, h: int, zoom: float = 1.0) -> Layout:
    s = min(w, h) / 640 * zoom
    mask_col = np.array(_MASK_COLOURS[rng.integers(len(_MASK_COLOURS))]) + rng.normal(0, 4, 3)
    mask_col = mask_col.astype(np.float32)
    k = 2 * math.pi / max(3.0, 9 * s)
    wave = np.sin(np.arange(max(w, h), dtype=np.float32) * k)
    weave = np.outer(wave[:h], wave[:w] * 1.6)[..., None]  # glass weave showing through the mask
    bare = (mask_col + smooth_noise(rng, h, w, 90 * s + 1)[..., None] * 3.5 + weave
            + rng.standard_normal((h, w, 1), np.float32) * (2.2 + rng.normal(0, 0.1, 3)).astype(np.float32))
    occ = np.zeros((h, w), np.uint8)
    traces, pads, silk = np.zeros((h, w), np.uint8), np.zeros((h, w), np.uint8), np.zeros((h, w), np.uint8)
    runs: list[Run] = []
    gaps: list[Gap] = []
    area = w * h / (640 * zoom) ** 2  # a closer camera sees fewer, larger components
    bodies = (np.zeros((h, w), np.uint8), np.zeros((h, w, 3), np.uint8))  # alpha, colour
    for i in range(int(rng.integers(3, 9) * area) + 1):
        _component(rng, w, h, s, occ, pads, silk, bodies, int(rng.integers(1, 60)) + i)
    for _ in range(int(60 * area) + 20):
        if len(runs) >= 24 * area:
            break
        got = _bus(rng, w, h, s, occ, traces, pads)
        if got:
            runs += got[0]
            gaps += got[1]
    vias = []
    for _ in range(int(rng.integers(8, 22) * area)):
        r = max(2, round(rng.uniform(4, 7) * s))
        x, y = int(rng.integers(r, w - r)), int(rng.integers(r, h - r))
        if _free(occ, x - r - 4 * s, y - r - 4 * s, x + r + 4 * s, y + r + 4 * s):
            cv2.circle(pads, (x, y), r, 255, -1, AA)
            cv2.circle(occ, (x, y), round(r + 4 * s), 1, -1)
            vias.append((x, y, r))
    silk_col = np.array((222, 226, 224), np.float32)
    a = silk.astype(np.float32)[..., None] / 255 * rng.uniform(0.75, 0.95)
    bare = bare * (1 - a) + silk_col * a
    copper_col = (np.array((62, 128, 196)) + rng.normal(0, 6, 3)).astype(np.float32)
    mix = float(rng.uniform(0.6, 0.85))
    shade = (1 + smooth_noise(rng, h, w, 40 * s + 1) * 0.05)[..., None]
    a = traces.astype(np.float32)[..., None] / 255 * mix
    img = bare * (1 - a) + copper_col * shade * a
    pad_col = np.array(_PAD_FINISHES[rng.integers(len(_PAD_FINISHES))], np.float32)
    a = pads.astype(np.float32)[..., None] / 255
    img = img * (1 - a) + pad_col * shade * a
    a = bodies[0].astype(np.float32)[..., None] / 255
    img = img * (1 - a) + (bodies[1] + rng.standard_normal((h, w, 1), np.float32) * 3) * a
    img = np.clip(img, 0, 255).astype(np.uint8)
    for x, y, r in vias:
        cv2.circle(img, (x, y), max(1, round(r * 0.45)), (22, 26, 22), -1, AA)
    sigma = 0.6 * max(s, 0.5)  # optics are never perfectly sharp
    img = cv2.GaussianBlur(img, (0, 0), sigma)
    bare_u8 = cv2.GaussianBlur(np.clip(bare, 0, 255).astype(np.uint8), (0, 0), sigma)
    copper = cv2.dilate(traces, np.ones((3, 3), np.uint8)) > 0
    return Layout(img, bare_u8, copper, copper_col, mix, None, tuple(runs), tuple(gaps))


def surface_layout(rng: np.random.Generator, w: int, h: int, zoom: float = 1.0) -> Layout:
    s = min(w, h) / 640 * zoom
    brushed = rng.random() < 0.6
    along_x = rng.random() < 0.5
    hh, ww = (h, w) if along_x else (w, h)  # brushed grain is made along x, then turned if need be
    if brushed:
        base = np.array((1.04, 1.0, 0.97), np.float32) * rng.uniform(105, 175)
        grain = cv2.blur(rng.standard_normal((hh, ww)).astype(np.float32), (max(3, int(80 * s)), 1))
        grain *= 7 / max(float(grain.std()), 1e-6)
        rows = cv2.GaussianBlur(rng.standard_normal((hh, 1)).astype(np.float32), (1, 0), 0.8)[:, :1] * 4
        band = np.exp(-(((np.arange(hh, dtype=np.float32) / hh) - rng.uniform(0.2, 0.8)) / 0.25) ** 2)
        tex = grain + rows + band[:, None] * rng.uniform(8, 22) + smooth_noise(rng, hh, ww, 90 * s + 1) * 4
    else:
        base = np.array(_PLASTICS[rng.integers(len(_PLASTICS))], np.float32) + rng.normal(0, 3, 3)
        fine = cv2.GaussianBlur(rng.standard_normal((hh, ww)).astype(np.float32), (0, 0), 0.8) * 7
        tex = fine + smooth_noise(rng, hh, ww, 80 * s + 1) * 2.5
    if not along_x:
        tex = np.ascontiguousarray(tex.T)
    img = np.clip(base + tex[..., None], 0, 255).astype(np.uint8)
    keep = np.zeros((h, w), np.uint8)
    light = base * 1.35 + 30
    for _ in range(int(rng.integers(0, 3))):  # machined grooves: a shadowed edge next to a lit one
        horiz = rng.random() < 0.5
        c = int(rng.integers(20, (h if horiz else w) - 20))
        t = max(1, round(2 * s))
        for off, col in ((0, base * 0.45), (t + 1, np.clip(light, 0, 250))):
            p0, p1 = ((0, c + off), (w, c + off)) if horiz else ((c + off, 0), (c + off, h))
            cv2.line(img, p0, p1, tuple(float(v) for v in col), t, AA)
        band = slice(max(0, c - 6 * t), c + 8 * t)
        if horiz:
            keep[band, :] = 1
        else:
            keep[:, band] = 1
    for _ in range(int(rng.integers(0, 4))):  # drilled holes with a lit chamfer
        r = round(rng.uniform(12, 30) * s)
        x, y = int(rng.integers(r + 2, w - r - 2)), int(rng.integers(r + 2, h - r - 2))
        if keep[max(0, y - r - 8):y + r + 8, max(0, x - r - 8):x + r + 8].any():
            continue
        cv2.circle(img, (x, y), r, tuple(float(c) for c in np.clip(light, 0, 250)), max(1, round(3 * s)), AA)
        cv2.circle(img, (x, y), max(1, r - round(3 * s)), (24, 24, 26), -1, AA)
        cv2.circle(keep, (x, y), r + max(2, round(8 * s)), 1, -1)
    img = cv2.GaussianBlur(img, (0, 0), 0.6 * max(s, 0.5))
    return Layout(img, None, None, None, 0.0, keep > 0)
