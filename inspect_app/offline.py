"""Keep every library offline and inside the station's state directory.

ultralytics writes settings to ``~/.config`` and downloads fonts and weights; OpenVINO sends telemetry;
matplotlib and torch cache under ``~``. Line PCs have no internet and the station must not write outside
its state dir, so this runs before any of those libraries is imported.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

_FONT_NAMES = ("Arial.ttf", "Arial.Unicode.ttf")


def configure_offline(state_dir: str | Path) -> Path:
    """Point caches and config dirs into ``state_dir/cache`` and switch off downloads. Idempotent."""
    cache = Path(state_dir).resolve() / "cache"
    yolo_dir = cache / "ultralytics"
    (yolo_dir / "Ultralytics").mkdir(parents=True, exist_ok=True)
    env = {
        "YOLO_CONFIG_DIR": str(yolo_dir),
        "YOLO_OFFLINE": "1",
        "YOLO_AUTOINSTALL": "0",
        "YOLO_VERBOSE": os.environ.get("YOLO_VERBOSE", "False"),
        "MPLCONFIGDIR": str(cache / "matplotlib"),
        "TORCH_HOME": str(cache / "torch"),
        "XDG_CACHE_HOME": str(cache / "xdg"),
        "HF_HUB_OFFLINE": "1",
        # OpenVINO's telemetry asks for consent on first use and then calls out; CI=true switches it off.
        "OPENVINO_TELEMETRY_OPT_OUT": "1",
    }
    os.environ.update(env)
    os.environ.setdefault("CI", "true")
    # OpenMP threads (torch) spin while waiting by default; on a 2-core line PC that starves the other
    # stages and any second process (a training next to tests took 200 s instead of 3.4 s for 30 steps)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    _install_fonts(yolo_dir / "Ultralytics")
    return cache


def _install_fonts(target: Path) -> None:
    """ultralytics checks for Arial.ttf and downloads it when missing, even offline; give it a local copy."""
    if all((target / n).exists() for n in _FONT_NAMES):
        return
    source = _bundled_font()
    if source is None:
        return  # no matplotlib (station-only install): ultralytics is not used either
    for name in _FONT_NAMES:
        dest = target / name
        if not dest.exists():
            shutil.copyfile(source, dest)


def _bundled_font() -> Path | None:
    try:
        import matplotlib  # only present with the training extras
    except ImportError:
        return None
    font = Path(matplotlib.__file__).parent / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"
    return font if font.exists() else None
