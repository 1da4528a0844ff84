"""A replay report as one self-contained HTML file: the counts, the yield statement, and the flipped parts
with their thumbnails embedded (base64 JPEG, boxes drawn), so it can be mailed or opened on a PC with no
network and no access to the station."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from inspect_app.replay.types import (
    DIRECTIONS,
    FAIL_TO_PASS,
    PASS_TO_FAIL,
    Finding,
    PartOutcome,
    ReplayReport,
)

THUMB_PX = 240
GALLERY_COLUMNS = 4
STORED_BGR = (40, 40, 220)  # red: what the live station saw
REPLAYED_BGR = (220, 140, 0)  # blue: what the candidate sees

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans CJK SC",sans-serif;
margin:24px;color:#1d2329;background:#fafbfc;max-width:1200px}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d8dee4;padding-bottom:4px}
.sub{color:#57606a;font-size:13px}
table{border-collapse:collapse;background:#fff;font-size:13px}
td,th{border:1px solid #d8dee4;padding:4px 10px;text-align:left;vertical-align:top}
th{background:#f0f3f6}
td.n{text-align:right;font-variant-numeric:tabular-nums}
table.cards{margin:16px 0} td.card{padding:8px 14px;min-width:110px}
.card .v{font-size:24px;font-weight:bold} .card .l{color:#57606a;font-size:12px}
.statement{background:#fff;border-left:4px solid #0969da;padding:8px 12px;font-size:14px;max-width:900px}
td.fig{width:250px;font-size:12px}
td.fig img{display:block;max-width:240px;max-height:240px;margin:0 auto 4px}
.tag{padding:1px 6px;color:#fff;font-weight:bold;font-size:11px}
.pf{background-color:#b42318} .fp{background-color:#1a7f37} .esc{background-color:#7d1c91}
"""


def write_html(report: ReplayReport, path: str | Path, thumbnails: int = 200) -> Path:
    """Write the report; at most ``thumbnails`` flipped parts get their image (the others are listed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report, thumbnails), encoding="utf-8")
    return path


def render_html(report: ReplayReport, thumbnails: int = 200) -> str:
    e = html.escape
    cand = report.candidate
    recipe = cand.get("recipe")
    what = []
    if cand.get("release"):
        what.append(f"release <code>{e(str(cand.get('model_id') or cand['release']))}</code>")
    changes = cand.get("recipe_changes") or {}
    if changes:
        what.append("recipe " + ", ".join(f"<code>{e(k)} {e(_short(a))} &rarr; {e(_short(b))}</code>"
                                          for k, (a, b) in changes.items()))  # fmt: skip
    elif recipe:
        what.append(f"recipe <code>{e(_recipe_text(recipe))}</code>")
    title = "Replay: " + (" and ".join(what) if what else "the live model and recipe")
    live = ", ".join(f"{e(k)}: {e(str(v.get('model_id') or v.get('model')))}" for k, v in report.live.items())
    y = report.yield_estimate
    r = report.reviews
    agreement = "n/a" if report.agreement is None else f"{100 * report.agreement:.2f} %"
    out = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{_strip(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{title}</h1>",
        f"<div class='sub'>{e(report.created)} &middot; {e(report.db_path)} &middot; live: {live or 'n/a'} "
        f"&middot; filters: {e(_filters_text(report))} &middot; mode: {e(report.mode)} &middot; "
        f"{report.seconds:.1f} s</div>",
        "<table class='cards'><tr>",
        _card(report.selected, "parts selected"),
        _card(report.replayed, "replayed"),
        _card(sum(report.not_replayable.values()), "not replayable"),
        _card(
            report.flips.get(PASS_TO_FAIL, 0),
            "PASS &rarr; FAIL",
            "bad" if report.flips.get(PASS_TO_FAIL) else "",
        ),
        _card(
            report.flips.get(FAIL_TO_PASS, 0),
            "FAIL &rarr; PASS",
            "good" if report.flips.get(FAIL_TO_PASS) else "",
        ),
        _card(agreement, "agreement"),
        _card(r.escapes_introduced, "new escapes (reviewed)", "bad" if r.escapes_introduced else ""),
        _card(
            r.false_rejects_removed,
            "false rejects fixed (reviewed)",
            "good" if r.false_rejects_removed else "",
        ),
        "</tr></table>",
        "<h2>Yield</h2>",
        f"<p class='statement'>{e(y.statement)}</p>",
        f"<p class='statement'>{e(report.pass_sampling)}</p>",
        _table(
            ["", "stored", "replayed", "flipped", "yield %"],
            [
                ["PASS parts", y.passed, y.pass_replayed, f"{y.pass_to_fail} to FAIL", ""],
                ["FAIL parts", y.failed, y.fail_replayed, f"{y.fail_to_pass} to PASS", ""],
                [
                    "yield",
                    "",
                    "",
                    "",
                    f"{_pct(y.yield_before_pct)} &rarr; {_pct(y.yield_after_pct)}"
                    + (
                        f" ({y.yield_after_interval_pct.low:.2f} to {y.yield_after_interval_pct.high:.2f})"
                        if y.yield_after_interval_pct and not y.exact
                        else ""
                    ),
                ],
            ],
        ),
        "<h2>Flips per class</h2>",
        _class_table(report),
        "<h2>Against the reviews</h2>",
        _table(
            [
                "reviewed parts",
                "replayed",
                "new escapes",
                "false rejects fixed",
                "new false rejects",
                "missed defects now caught",
                "reviewed defects that FAIL",
                "reviewed good that PASS",
                "unclear",
            ],
            [
                [
                    r.reviewed,
                    r.replayed,
                    r.escapes_introduced,
                    r.false_rejects_removed,
                    r.false_rejects_introduced,
                    r.escapes_caught,
                    f"{r.defects_failing} of {r.defects_replayed}",
                    f"{r.good_passing} of {r.good_replayed}",
                    r.unclear,
                ]
            ],
        ),
    ]
    if report.not_replayable:
        out += ["<h2>Not replayable</h2>", _table(["why", "parts"], list(report.not_replayable.items()))]
    if report.other_changes:
        out += [
            "<h2>Other verdict changes</h2>",
            _table(["change", "parts"], list(report.other_changes.items())),
        ]
    flipped = report.flipped()
    out.append(f"<h2>Flipped parts ({len(flipped)})</h2>")
    out.append(
        "<p class='sub'>boxes: <b style='color:#dc2828'>&#9632; red</b> the stored FAIL reasons, "
        "<b style='color:#008cdc'>&#9632; blue</b> the candidate's FAIL reasons</p>"
    )
    # a table, not a flex box: it lays out alike in browsers and in Qt's rich text (the docs' screenshot)
    out.append("<table class='gallery'>")
    base = Path(report.state_dir)
    shown = flipped[:thumbnails]
    for i in range(0, len(shown), GALLERY_COLUMNS):
        out.append("<tr>" + "".join(_figure(p, base) for p in shown[i : i + GALLERY_COLUMNS]) + "</tr>")
    out.append("</table>")
    if len(flipped) > thumbnails:
        rest = [[p.inspection_id, p.part_id, p.time, p.flip, ", ".join(p.flip_classes), p.truth or ""]
                for p in flipped[thumbnails:]]  # fmt: skip
        out += [f"<p class='sub'>{len(rest)} more without thumbnail:</p>",
                _table(["id", "part", "time", "flip", "classes", "review"], rest)]  # fmt: skip
    if report.notes:
        out += ["<h2>Notes</h2><ul>"] + [f"<li>{e(n)}</li>" for n in report.notes] + ["</ul>"]
    out.append("</body></html>")
    return "\n".join(out)


def _strip(text: str) -> str:
    return text.replace("<code>", "").replace("</code>", "")


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.2f}"


def _card(value: object, label: str, cls: str = "") -> str:
    colour = {"bad": "#b42318", "good": "#1a7f37"}.get(cls, "#1d2329")
    return (f"<td class='card'><span class='v' style='color:{colour}'>{html.escape(str(value))}</span><br>"
            f"<span class='l'>{label}</span></td>")  # fmt: skip


def _short(v: object) -> str:
    return "(default)" if v is None else str(v)


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _cell(v: object) -> str:
    if isinstance(v, int | float) and not isinstance(v, bool):
        return f"<td class='n'>{v}</td>"
    text = str(v)
    return f"<td>{text if '&rarr;' in text else html.escape(text)}</td>"


def _class_table(report: ReplayReport) -> str:
    classes = sorted({c for d in DIRECTIONS for c in report.flips_by_class.get(d, {})})
    if not classes:
        return "<p class='sub'>No flip.</p>"
    rows = [[c, *(report.flips_by_class.get(d, {}).get(c, 0) for d in DIRECTIONS)] for c in classes]
    return _table(["class", "PASS → FAIL", "FAIL → PASS"], rows)


def _filters_text(report: ReplayReport) -> str:
    f = report.filters.as_dict()
    shown = [f"{k}={v}" for k, v in f.items() if v not in (None, "")]
    return ", ".join(shown) or "all stored parts"


def _recipe_text(recipe: dict) -> str:
    return ", ".join(
        f"{k}={v}" for k, v in recipe.items() if k not in ("model", "display_names", "description")
    )


def _figure(p: PartOutcome, base: Path) -> str:
    e = html.escape
    tag = ("<span class='tag pf'>PASS&rarr;FAIL</span>" if p.flip == PASS_TO_FAIL
           else "<span class='tag fp'>FAIL&rarr;PASS</span>")  # fmt: skip
    if p.flip == FAIL_TO_PASS and p.truth == "defect":
        tag += " <span class='tag esc'>new escape</span>"
    elif p.flip == FAIL_TO_PASS and p.truth == "good":
        tag += " <span class='tag fp'>false reject fixed</span>"
    elif p.flip == PASS_TO_FAIL and p.truth == "good":
        tag += " <span class='tag pf'>new false reject</span>"
    elif p.flip == PASS_TO_FAIL and p.truth == "defect":
        tag += " <span class='tag fp'>escape caught</span>"
    src = thumbnail_data_uri(base, p)
    img = f"<img src='{src}' alt='part {e(p.part_id)}'>" if src else "<div class='sub'>(no image kept)</div>"
    return (
        f"<td class='fig'>{img}<br>{tag}<br>#{p.inspection_id} {e(p.part_id)} &middot; {e(p.recipe)}<br>"
        f"{e(p.time)}<br>classes: {e(', '.join(p.flip_classes) or '-')}"
        + (f"<br>review: {e(', '.join(p.review_kinds))}" if p.review_kinds else "")
        + "</td>"
    )


def thumbnail_data_uri(base: Path, p: PartOutcome) -> str | None:
    """The part's stored image with the stored (red) and the candidate's (blue) boxes, as a JPEG data URI."""
    import cv2

    if not p.image_path:
        return None
    image = cv2.imread(str(base / p.image_path), cv2.IMREAD_COLOR)
    if image is None:
        return None
    thumb = draw_findings(image, p.stored_findings, p.replayed_findings)
    ok, buf = cv2.imencode(".jpg", thumb, [cv2.IMWRITE_JPEG_QUALITY, 80])
    if not ok:
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode("ascii")


def draw_findings(
    image: np.ndarray, stored: Sequence[Finding], replayed: Sequence[Finding], size: int = THUMB_PX
) -> np.ndarray:
    import cv2

    h, w = image.shape[:2]
    scale = size / max(h, w)
    thumb = cv2.resize(
        image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA
    )
    for findings, colour, grow in ((stored, STORED_BGR, 2), (replayed, REPLAYED_BGR, 0)):
        for f in findings:
            if f.box is None:
                continue
            x1, y1, x2, y2 = (round(v * scale) for v in f.box)
            cv2.rectangle(thumb, (x1 - grow, y1 - grow), (x2 + grow, y2 + grow), colour, 2)
    return thumb
