"""Log levels for the OPC UA libraries: asyncua logs every connection, session and request at INFO (over a
thousand lines at each start of a station, thousands more per minute with a PLC polling), which buries the
link's own messages and the UNSECURED warning. Our ``plc.*`` loggers keep the station's level."""

from __future__ import annotations

import logging

# asyncua's own loggers, and the name its trust store logs under
LIBRARY_LOGGERS = ("asyncua", "asyncuagds")


def quiet_library_loggers() -> None:
    """WARNING for the OPC UA library loggers, unless someone set their level already (a deliberate choice
    stays) or the station logs at DEBUG (``--verbose``: then the library's detail is wanted too)."""
    if logging.getLogger().getEffectiveLevel() <= logging.DEBUG:
        return
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.WARNING)
