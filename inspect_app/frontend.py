"""The operator window as the station's command line sees it: a plugin (the ``inspect_app.frontends``
entry point ``gui``) that may be absent, or present but unable to open a window here."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

log = logging.getLogger(__name__)


class FrontendUnavailable(Exception):
    """Raised by a front end before it starts anything, when it cannot show itself on this machine (no
    display, a system library missing); the message is one line that says what is missing."""


def load_frontend(name: str) -> Callable[..., int] | None:
    from importlib.metadata import entry_points

    for ep in entry_points(group="inspect_app.frontends", name=name):
        try:
            return ep.load()
        except ImportError as exc:
            log.warning("the %s front end cannot be loaded: %s", name, exc)
    return None


def has_display() -> bool:
    return (
        bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
        and os.environ.get("QT_QPA_PLATFORM") != "offscreen"
    )
