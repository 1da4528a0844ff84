"""The OPC UA link as a :class:`inspect_app.links.StationLink`, found through the ``inspect_app.links`` entry
point (``opcua = "plc.link:make_link"``): the embedded server or the PLC client, per ``[opcua] mode``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from inspect_app.config import StationConfig

if TYPE_CHECKING:
    from inspect_app.links import StationLink


class LinkStartError(RuntimeError):
    """The link cannot start (port taken, certificate or outbox unusable); headless prints it and exits 2."""


def make_link(config: StationConfig) -> StationLink | None:
    mode = config.opcua.mode
    if mode == "off":
        return None
    from plc.logs import quiet_library_loggers

    quiet_library_loggers()
    if mode == "server":
        from plc.server import EmbeddedServer

        return EmbeddedServer(config)
    from plc.client import PlcClientLink

    return PlcClientLink(config)
