"""Does PyQt hold the GIL while Qt paints? (docs/performance.md, operator window)

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_gil_pyqt.py

A pure-Python thread counts as fast as it can while the main thread runs, in turn: time.sleep (GIL
released), a pure-Python loop (GIL held), and QPainter.drawImage of a large image (with Qt's thread pool
limited to one thread, so only the GIL is shared). If the counter slows under drawImage as it does beside
the Python loop, PyQt kept the GIL during the C++ call.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PyQt6.QtCore import QRectF, QThreadPool
from PyQt6.QtGui import QImage, QPainter
from PyQt6.QtWidgets import QApplication


def counter_rate(work: Callable[[], None], n: int = 20) -> tuple[float, float]:
    """(ms per call of ``work``, million counts/s of the Python thread beside it)."""
    count, stop = [0], [False]

    def spin() -> None:
        while not stop[0]:
            count[0] += 1

    t = threading.Thread(target=spin)
    t.start()
    t0 = time.perf_counter()
    for _ in range(n):
        work()
    dt = time.perf_counter() - t0
    stop[0] = True
    t.join()
    return dt / n * 1000, count[0] / dt / 1e6


def main() -> None:
    app = QApplication([])  # noqa: F841 (QPainter needs it)
    QThreadPool.globalInstance().setMaxThreadCount(1)
    img = QImage(2000, 2000, QImage.Format.Format_RGB32)
    img.fill(0x336699)
    target = QImage(3000, 3000, QImage.Format.Format_RGB32)

    def python_loop() -> None:
        s = 0
        for i in range(200_000):
            s += i

    def draw(smooth: bool) -> Callable[[], None]:
        def run() -> None:
            p = QPainter(target)
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
            p.drawImage(QRectF(0, 0, 2900, 2900), img)
            p.end()

        return run

    cases = [("time.sleep(0.02)", lambda: time.sleep(0.02)), ("pure-Python loop", python_loop),
             ("QPainter.drawImage", draw(False)), ("QPainter.drawImage, smooth", draw(True))]
    base = None
    for name, work in cases:
        ms, rate = counter_rate(work)
        base = base or rate
        print(f"{name:28s} {ms:6.1f} ms/call   Python thread beside it: {rate:5.2f} M/s ({rate / base:.0%})")


if __name__ == "__main__":
    main()
