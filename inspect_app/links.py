"""Links from the station to the outside (the OPC UA server/client for PLCs and MES, ...).

A link is started after the station and stopped before it. The station runtime knows links only through
this Protocol and the ``inspect_app.links`` entry points (see pyproject.toml), so it stays testable and
installable without them; ``plc`` provides the OPC UA link.
"""

from __future__ import annotations

import logging
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from inspect_app.config import StationConfig
    from inspect_app.station import Station

log = logging.getLogger(__name__)


@runtime_checkable
class StationLink(Protocol):
    name: str

    def start(self, station: Station) -> None:
        """Subscribe to the station's results/events and start serving; raise on a fatal setup error."""

    def stop(self) -> None: ...

    def status(self) -> dict[str, Any]:
        """What the UI shows: at least {"connected": bool, "security": str, "detail": str}."""


def build_links(config: StationConfig) -> list[StationLink]:
    """Every link whose plugin says the config enables it. A plugin entry point is a callable
    ``(config) -> StationLink | None``."""
    links: list[StationLink] = []
    for ep in sorted(entry_points(group="inspect_app.links"), key=lambda e: e.name):
        try:
            factory = ep.load()
        except ImportError as exc:
            log.warning("link %s unavailable: %s", ep.name, exc)
            continue
        link = factory(config)
        if link is not None:
            links.append(link)
    return links
