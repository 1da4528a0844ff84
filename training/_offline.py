"""Guard for the modules that import ultralytics at import time."""

from __future__ import annotations

import os


def require_offline(module: str) -> None:
    """ultralytics writes settings under ``~`` and fetches fonts on import unless the station's offline
    configuration ran first; fail loudly instead of letting it reach the network or the home directory."""
    if os.environ.get("YOLO_OFFLINE") != "1":
        raise RuntimeError(
            f"call inspect_app.offline.configure_offline(state_dir) before importing {module} "
            "(it imports ultralytics, which must not write under ~ or download anything)"
        )
