"""The station log with the OPC UA link running: asyncua's INFO chatter stays out, the link's events stay."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from asyncua import Client

from plc.logs import LIBRARY_LOGGERS, quiet_library_loggers
from plc.testing import Running, Vision, free_port, open_server, station_config


def test_asyncua_info_does_not_flood_the_station_log(
    tmp_path: Path, start_station: Callable[..., Running], caplog: pytest.LogCaptureFixture
) -> None:
    for name in LIBRARY_LOGGERS:  # as in a fresh station process, whatever earlier tests did
        logging.getLogger(name).setLevel(logging.NOTSET)
    caplog.set_level(logging.INFO)  # the level `inspect-app run` logs at
    r = start_station(station_config(tmp_path, open_server(free_port())))

    async def cycles() -> None:
        for i in range(3):  # sessions come and go, as a PLC reconnecting would
            async with Client(r.url) as c:
                v = await Vision.connect(c)
                await v.inspect(f"LOG-{i}")

    asyncio.run(cycles())
    library_info = [x for x in caplog.records if x.name.startswith("asyncua") and x.levelno < logging.WARNING]
    ours = [x.getMessage() for x in caplog.records if x.name.startswith("plc.")]
    assert not library_info, f"{len(library_info)} asyncua INFO lines: {library_info[0].getMessage()}"
    assert any("UNSECURED" in m for m in ours)  # the warning that used to drown


def test_a_level_set_on_purpose_or_a_verbose_station_keeps_the_library_detail() -> None:
    lib = logging.getLogger("asyncua")
    root = logging.getLogger()
    old_lib, old_root = lib.level, root.level
    try:
        lib.setLevel(logging.INFO)
        quiet_library_loggers()
        assert lib.level == logging.INFO
        lib.setLevel(logging.NOTSET)
        root.setLevel(logging.DEBUG)  # inspect-app --verbose
        quiet_library_loggers()
        assert lib.level == logging.NOTSET
        root.setLevel(logging.INFO)
        quiet_library_loggers()
        assert lib.level == logging.WARNING
    finally:
        lib.setLevel(old_lib)
        root.setLevel(old_root)
