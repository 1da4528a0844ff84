"""Screenshots of the operator window for the README and ``docs/operator.md``:
``python -m ui.screenshots [--out docs/screenshots] [--parts 1100] [--rate 20]``.

Runs the demo station (synthetic camera, the default model release, the demo's OPC UA link) offscreen in a
temporary state dir, lets it inspect until ``--parts`` parts are counted (free-running at ``--rate`` parts
a second: a long-running shift's counters and charts, not a fresh start's), and saves:

* ``main_window.png`` / ``main_window_zh_CN.png``: the window at ``--size`` in English and Chinese;
* ``main_window_1366x768.png`` / ``..._zh_CN.png``: the same on a 1366x768 screen (the window fits it);
* ``reject_view.png`` and ``recipe_editor.png`` (engineer mode);
* ``error.png`` / ``error_zh_CN.png``: the station in Error. The fault is real, made as an engineer could
  make it: a recipe whose region of interest lies outside the image (``ROI_OUTSIDE_IMAGE``), applied
  through the recipe API and audited; the station refuses to judge parts until it is fixed.

Without a default model release (``models/`` not yet trained), or with ``--fake``, the model is replaced by
one that reports the generator's ground truth, so the pictures still show real synthetic parts with boxes.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from inspect_app.demo import default_model_dir, demo_config, demo_opcua_port
from inspect_app.station import Station
from ui.truth_model import stand_in_station

DEMO_PASSWORD = "demo"


def _size(text: str) -> tuple[int, int]:
    w, _, h = text.partition("x")
    return int(w), int(h)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    p.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    p.add_argument("--parts", type=int, default=1100, help="inspect this many parts first (default 1100)")
    p.add_argument("--rate", type=float, default=20.0, help="free-run trigger rate, parts/s (default 20)")
    p.add_argument("--timeout", type=float, default=600.0, help="give up after this many seconds")
    p.add_argument("--size", type=_size, default=(1600, 1000), help="main window size, WxH (1600x1000)")
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
    cfg = demo_config(state_dir=state, opcua_port=demo_opcua_port()[0])
    cfg = cfg.model_copy(update={
        "ui": cfg.ui.model_copy(update={"engineer_password_hash": hash_password(DEMO_PASSWORD)}),
        "trigger": cfg.trigger.model_copy(update={"rate_hz": args.rate}),
    })
    model_key = cfg.recipes[cfg.active_recipe].model

    def factory() -> Station:
        return Station(cfg) if real else stand_in_station(cfg)

    app = QApplication([])
    translations = Translations(app)
    feed = StationFeed()
    controller = StationController(factory, feed, config=cfg)
    window = MainWindow(cfg, controller, feed, translations)
    window.resize(*args.size)
    window.show()
    window.start_station()
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        _pump(app, 0.2)
        if window.phase == "failed":
            print(f"station did not start: {window.start_error}")
            return 2
        st = controller.station
        if st is not None and st.counters.get("total", 0) >= args.parts:
            break
    st = controller.station
    total = int(st.counters.get("total", 0)) if st else 0
    if total < args.parts:
        print(f"only {total} parts in {args.timeout:.0f} s; lower --parts or raise --rate")
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    window.refresh()
    _pump(app, 1.5)

    def shoot(name: str, size: tuple[int, int] | None = None) -> None:
        window.resize(*(size or args.size))
        window.refresh()
        _pump(app, 1.2)
        window.grab().save(str(args.out / name))

    shoot("main_window.png")
    shoot("main_window_1366x768.png", (1366, 768 - 40 - 30))  # a 1366x768 screen less task and title bars
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
    window.set_language("zh_CN")
    shoot("main_window_zh_CN.png")
    shoot("main_window_1366x768_zh_CN.png", (1366, 768 - 40 - 30))
    window.set_language("en")
    if _make_error(window, app):
        shoot("error.png")
        window.set_language("zh_CN")
        shoot("error_zh_CN.png")
        window.set_language("en")
    window.engineer_logout()
    window.close()
    _pump(app, 60.0, until=lambda: not window.isVisible())
    what = "model " + model_key if real else "ground-truth stand-in model"
    print(f"screenshots in {args.out} after {total} parts ({what})")
    return 0


def _make_error(window: Any, app: Any) -> bool:
    """A real Error: the active recipe's region of interest moved outside the image, as an engineer's
    mistake would; the station refuses to judge the next part (ROI_OUTSIDE_IMAGE)."""
    from inspect_app.config import RectROI

    st = window.controller.station
    recipe = st.config.recipes[st.recipe]
    wrong = recipe.model_copy(update={"roi": RectROI(kind="rect", xyxy=(5000.0, 5000.0, 5100.0, 5100.0))})
    try:
        st.set_recipe_config(st.recipe, wrong, "demo engineer", "engineer")
    except Exception as exc:  # noqa: BLE001 (a picture tool: say why the picture is missing, go on)
        print(f"no error screenshot: the station refused the wrong recipe ({exc})")
        return False
    _pump(app, 10.0, until=lambda: st.state.value == "Error")
    _pump(app, 1.0)
    return st.state.value == "Error"


def _pump(app: Any, seconds: float, until: Callable[[], bool] | None = None) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        if until is not None and until():
            return
        time.sleep(0.02)


if __name__ == "__main__":
    raise SystemExit(main())
