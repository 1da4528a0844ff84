"""Screenshots of the operator window for the README: ``python -m ui.screenshots [--out docs/screenshots]``.

Runs the demo station (synthetic camera, the default model release, the demo's OPC UA link) offscreen in a
temporary state dir, lets it inspect for a while, and saves the main window (English and Chinese), the
reject review view and the engineer's recipe editor. Without a default model release (``models/`` not yet
trained), or with ``--fake``, the model is replaced by one that reports the generator's ground truth, so
the pictures still show real synthetic parts with boxes.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from inspect_app.demo import default_model_dir, demo_config
from inspect_app.station import Station
from ui.truth_model import stand_in_station

DEMO_PASSWORD = "demo"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    p.add_argument("--seconds", type=float, default=12.0, help="how long the station runs first")
    p.add_argument("--fake", action="store_true", help="ground-truth model even if a release exists")
    args = p.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from ui.qt_env import clean_qt_env

    clean_qt_env()
    from PyQt6.QtWidgets import QApplication

    from inspect_app.passwords import hash_password
    from ui.controller import StationController
    from ui.feed import StationFeed
    from ui.i18n import Translations
    from ui.main_window import MainWindow

    state = Path(tempfile.mkdtemp(prefix="inspect-screens-"))
    real = (default_model_dir() / "manifest.json").exists() and not args.fake
    cfg = demo_config(state_dir=state)
    cfg = cfg.model_copy(update={"ui": cfg.ui.model_copy(
        update={"engineer_password_hash": hash_password(DEMO_PASSWORD)})})
    model_key = cfg.recipes[cfg.active_recipe].model

    def factory() -> Station:
        return Station(cfg) if real else stand_in_station(cfg)

    app = QApplication([])
    translations = Translations(app)
    feed = StationFeed()
    controller = StationController(factory, feed)
    window = MainWindow(cfg, controller, feed, translations)
    window.resize(1600, 1000)
    window.show()
    window.start_station()
    deadline = time.monotonic() + args.seconds + 60
    started = None
    while time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.02)
        if window.phase == "running" and started is None:
            started = time.monotonic()
        if started is not None and time.monotonic() - started > args.seconds:
            break
        if window.phase == "failed":
            print(f"station did not start: {window.start_error}")
            return 2
    window.refresh()
    _pump(app, 1.5)
    args.out.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(args.out / "main_window.png"))
    fails = window.gallery.ids
    if fails:
        view = window.open_result(fails[0])
        _pump(app, 1.5)
        if view.canvas.boxes:
            view.canvas.selected = 0
            view._update_hint()
        view.resize(1300, 800)
        _pump(app, 0.3)
        view.grab().save(str(args.out / "reject_view.png"))
        view.close()
    window.engineer_login("demo engineer", DEMO_PASSWORD)
    editor = window.open_recipe_editor()
    if editor is not None:
        editor.recipe_box.setCurrentText("pcb-lenient")
        _pump(app, 0.5)
        editor.grab().save(str(args.out / "recipe_editor.png"))
        editor.close()
    window.engineer_logout()
    window.set_language("zh_CN")
    _pump(app, 1.0)
    window.grab().save(str(args.out / "main_window_zh_CN.png"))
    window.set_language("en")
    window.close()
    _pump(app, 30.0, until=lambda: not window.isVisible())
    print(f"screenshots in {args.out} ({'model ' + model_key if real else 'ground-truth stand-in model'})")
    return 0


def _pump(app: object, seconds: float, until: object = None) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()  # type: ignore[attr-defined]
        if until is not None and until():  # type: ignore[operator]
            return
        time.sleep(0.02)


if __name__ == "__main__":
    raise SystemExit(main())
