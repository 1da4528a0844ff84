"""Screenshots of the replay loop for ``docs/quality-engineer.md``:
``python -m ui.replay_screenshots [--out docs/screenshots] [--parts 1500] [--release DIR]``.

1. A history: the demo station (synthetic camera, the default model release, the demo's recipes and its
   1-in-20 PASS images) inspects ``--parts`` parts into a temporary state dir (or ``--state-dir``).
2. Reviews, as a quality engineer would record them, from the synthetic camera's ground truth (each frame
   knows its real defects): every FAIL with no real defect is a ``false_reject``, every other FAIL a
   ``confirmed_defect``, and every PASS with a kept image and a real defect a ``missed_defect``.
3. ``inspect-app replay`` (the same API) with the candidate release ``--release``, a stricter recipe
   (``min_conf`` ``--strict``, 0.8: exact, from the stored detections) and a laxer one (``--lax``, 0.25:
   from the stored images, 1 in 20 PASS); the HTML and JSON reports are kept in the state dir's
   ``replays/``, and the first part of the stricter recipe's report is rendered to ``replay_report.png``
   by Qt's rich-text engine (QTextDocument: no browser is installed here, and QtWebEngine is not; it
   draws the same HTML without the CSS it does not know, so the cards and the thumbnail grid are laid
   out plainer than a browser shows them).
4. The recipe editor with its what-if line for the stricter ``min_conf``: ``recipe_editor_preview.png`` and
   ``recipe_editor_preview_zh_CN.png`` (an offscreen grab of the real widget, replay done off its thread).
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any

from inspect_app.demo import default_model_dir, demo_config
from inspect_app.protocols import FrameSource
from inspect_app.types import Frame


class TruthKeeper:
    """The demo camera, remembering each frame's ground truth by frame id (for the scripted reviews)."""

    def __init__(self, inner: FrameSource) -> None:
        self.inner, self.name = inner, inner.name
        self.truth: dict[int, tuple] = {}

    def open(self) -> None:
        self.inner.open()

    def read(self, timeout: float) -> Frame:
        frame = self.inner.read(timeout)
        self.truth[frame.frame_id] = tuple(frame.truth or ())
        return frame

    def close(self) -> None:
        self.inner.close()


def make_history(state: Path, parts: int) -> Any:
    from inspect_app.builders import build_source
    from inspect_app.station import Station
    from inspect_app.store.read import ResultsReader

    cfg = demo_config(state_dir=state)
    cfg = cfg.model_copy(update={"trigger": cfg.trigger.model_copy(update={"rate_hz": 1000.0})})
    source = TruthKeeper(build_source(cfg))
    st = Station(cfg, source=source, max_parts=parts)  # type: ignore[arg-type]
    st.start()
    assert st.wait_for_results(parts, timeout=3600)
    with ResultsReader(state / cfg.store.db) as r:
        recs = list(r.iter_range())
    last = None
    for rec in recs:
        truth = source.truth.get(rec.frame_id or -1, ())
        if rec.verdict == "FAIL":
            last = st.review(rec.id, "confirmed_defect" if truth else "false_reject", "qe-demo")
        elif rec.verdict == "PASS" and rec.image_kept and truth:
            t = truth[0]
            last = st.review(rec.id, "missed_defect", "qe-demo", class_name=t.class_name, box=t.box)
    if last is not None:
        last.result(timeout=30)
    st.stop()
    return cfg


def render_html(html_path: Path, png: Path, width: int = 1100, max_height: int = 1500) -> None:
    """Draw the report's HTML with QTextDocument (data-URI images handed over as resources)."""
    from PyQt6.QtCore import QUrl
    from PyQt6.QtGui import QColor, QImage, QPainter, QTextDocument

    text = html_path.read_text(encoding="utf-8")
    doc = QTextDocument()
    images: dict[str, QImage] = {}

    def swap(m: re.Match[str]) -> str:
        name = f"thumb{len(images)}"
        images[name] = QImage.fromData(base64.b64decode(m.group(1)))
        return f"src='{name}'"

    text = re.sub(r"src='data:image/jpeg;base64,([A-Za-z0-9+/=]+)'", swap, text)
    for name, image in images.items():
        doc.addResource(QTextDocument.ResourceType.ImageResource, QUrl(name), image)
    doc.setHtml(text)
    doc.setTextWidth(width)
    h = min(int(doc.size().height()) + 20, max_height)
    out = QImage(width + 40, h, QImage.Format.Format_RGB32)
    out.fill(QColor("#fafbfc"))
    painter = QPainter(out)
    painter.translate(20, 10)
    doc.drawContents(painter)
    painter.end()
    out.save(str(png))


def grab_editor(cfg: Any, db: Path, out: Path, app: Any, translations: Any, min_conf: float) -> str:
    from inspect_app.model_release import load_release
    from inspect_app.protocols import ModelInfo
    from ui.recipe_editor import RecipeEditor
    from ui.replay_preview import PreviewSource

    infos = {}
    for r in cfg.recipes.values():
        rel = load_release(r.model, verify=[])
        infos[r.model] = ModelInfo(rel.model_id, rel.name, rel.version, rel.sha256("model.onnx"), rel.names,
                                   rel.imgsz, r.model, "openvino")  # fmt: skip
    editor = RecipeEditor()
    editor.resize(900, 780)
    editor.load(cfg.recipes, {k: v.names for k, v in infos.items()}, [], "pcb-demo")
    editor.set_preview_source(PreviewSource(db, cfg, infos))
    editor.show()
    texts = []
    for lang, name in (("en", "recipe_editor_preview.png"), ("zh_CN", "recipe_editor_preview_zh_CN.png")):
        translations.set_language(lang)
        editor.min_conf.setValue(cfg.recipes["pcb-demo"].min_conf)
        editor.min_conf.setValue(min_conf)
        editor.preview.wait()
        deadline = time.monotonic() + 60
        while editor.preview.busy() and time.monotonic() < deadline:
            app.processEvents()
            time.sleep(0.01)
        app.processEvents()
        editor.grab().save(str(out / name))
        texts.append(editor.preview.text())
    translations.set_language("en")
    editor.close()
    return "\n".join(texts)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    p.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    p.add_argument("--parts", type=int, default=1500)
    p.add_argument("--state-dir", type=Path, default=None, help="reuse (or keep) the history here")
    p.add_argument("--release", type=Path, default=None, help="candidate release (default: none)")
    p.add_argument("--strict", type=float, default=0.8, help="the stricter min_conf (default 0.8)")
    p.add_argument("--lax", type=float, default=0.25, help="the laxer min_conf (default 0.25)")
    args = p.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from ui.qt_env import clean_qt_env

    clean_qt_env()
    from PyQt6.QtWidgets import QApplication

    from inspect_app.offline import configure_offline
    from inspect_app.replay import ReplayFilters, run_replay
    from inspect_app.replay.html import write_html
    from ui.i18n import Translations

    state = (args.state_dir or Path(tempfile.mkdtemp(prefix="replay-shots-"))).resolve()
    configure_offline(state)
    db = state / "results.db"
    if db.exists():
        cfg = demo_config(state_dir=state)
        print(f"history: reusing {db}")
    else:
        t0 = time.monotonic()
        cfg = make_history(state, args.parts)
        print(f"history: {args.parts} parts and their reviews in {time.monotonic() - t0:.0f} s ({state})")
    print(f"live model: {default_model_dir()}")
    app = QApplication.instance() or QApplication([])
    translations = Translations(app)
    args.out.mkdir(parents=True, exist_ok=True)
    live = cfg.recipes["pcb-demo"]
    runs = [
        ("strict", None, live.model_copy(update={"min_conf": args.strict})),
        ("lax", None, live.model_copy(update={"min_conf": args.lax})),
    ]
    if args.release is not None:
        runs.append(("release", args.release.resolve(), None))
    for tag, release, cand in runs:
        report = run_replay(db, config=cfg, candidate_release=release, candidate_recipe=cand,
                            filters=ReplayFilters(recipe="pcb-demo"))  # fmt: skip
        html = write_html(report, state / "replays" / f"replay-{tag}.html")
        (state / "replays" / f"replay-{tag}.json").write_text(report.to_json())
        print(f"{tag}: {report.summary_line()} ({report.seconds:.1f} s, mode {report.mode})")
        print(f"  {report.yield_estimate.statement}\n  {report.pass_sampling}\n  HTML: {html}")
    render_html(state / "replays" / "replay-strict.html", args.out / "replay_report.png")
    print("editor:", grab_editor(cfg, db, args.out, app, translations, args.strict))
    print(f"screenshots in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
