"""``run_gui``: the operator window on a started station (the ``gui`` front end of ``inspect-app``).

Runs the station as ``headless`` does (control socket, links, graceful stop) with the window in front:
closing the window, Ctrl+C or SIGTERM stop the pipeline gracefully (every queued result is committed)
before the process exits. ``--max-parts N`` stops and closes after N results, like headless.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import sys
from collections.abc import Callable

from inspect_app.config import StationConfig
from inspect_app.frontend import FrontendUnavailable
from inspect_app.station import Station
from ui.display_check import window_problem
from ui.qt_env import clean_qt_env

log = logging.getLogger(__name__)

LANG_ENV = "INSPECT_APP_LANG"


def pick_language(cfg: StationConfig, lang: str | None = None) -> str:
    """--lang, else $INSPECT_APP_LANG, else the config's [ui] language."""
    return lang or os.environ.get(LANG_ENV) or cfg.ui.language


def freeze_startup_objects(_station: object = None) -> None:
    """Once the station has started: move every object made so far (modules, models, widgets) out of the
    garbage collector's reach. A full collection scanned ~80 000 of them in ~70 ms, a stall of every thread
    (the window's too); after this it scans only what was made since."""
    gc.collect()
    gc.freeze()


def run_gui(cfg: StationConfig, max_parts: int | None = None, *, lang: str | None = None,
            station_factory: Callable[[], Station] | None = None) -> int:
    """Raises FrontendUnavailable, before anything is started, when Qt cannot open a window here."""
    clean_qt_env()
    problem = window_problem()
    if problem is not None:
        raise FrontendUnavailable(problem)
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication

    from ui.controller import StationController
    from ui.feed import StationFeed
    from ui.i18n import Translations
    from ui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("inspect-app")
    translations = Translations(app)
    translations.set_language(pick_language(cfg, lang))
    feed = StationFeed()
    controller = StationController(station_factory or (lambda: Station(cfg, max_parts=max_parts)), feed,
                                   config=cfg)
    controller.started.connect(freeze_startup_objects)
    window = MainWindow(cfg, controller, feed, translations, max_parts=max_parts)
    window.show()
    window.start_station()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("%s received: stopping (queued results are flushed first)", signal.Signals(signum).name)
        QTimer.singleShot(0, window.close)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    # Python runs signal handlers only between bytecodes; the Qt event loop is C++, so wake it now and then
    wake = QTimer()
    wake.timeout.connect(lambda: None)
    wake.start(200)
    try:
        app.exec()
    finally:
        wake.stop()
        for s, handler in previous.items():
            signal.signal(s, handler)
        controller.close()
    return window.exit_code
