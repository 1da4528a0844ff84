"""A shadow model that disagrees with the live one on every part never changes a verdict, a counter or a PLC
tag; its verdicts are stored apart, flagged, and compared by ``inspect-app shadow report``.

Real station, real OPC UA server on 127.0.0.1, the live model scripted (a marked part FAILs), the shadow a
tiny real release run by onnxruntime that FAILs every part.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from asyncua import Client

from inspect_app.cli import main
from inspect_app.store.read import ResultsReader
from inspect_app.store.shadow_read import shadow_agreement
from inspect_app.testing.const_models import write_brightness_release
from plc.counters import COUNTER_TYPES
from plc.testing import Running, Vision, free_port, open_server, station_config, wait_until

PARTS = 6  # the script alternates PASS, FAIL


def _run(r: Running) -> tuple[list[dict], dict]:
    async def go() -> tuple[list[dict], dict]:
        async with Client(r.url) as c:
            v = await Vision.connect(c)
            assert await v.wait_value(v.hs("Ready"), bool) is True
            tags = []
            for i in range(PARTS):
                tags.append(await v.inspect(f"S-{i}"))
                # one part at a time, each judged by the shadow before the next: none is skipped
                for _ in range(1000):
                    s = r.station.shadow_status()
                    if s is None or s.judged + s.skipped > i:
                        break
                    await asyncio.sleep(0.01)
            names = list(COUNTER_TYPES)
            values = await c.read_values([v.proj_node(f"Counters.{n}") for n in names])
            return tags, dict(zip(names, values, strict=True))

    return asyncio.run(go())


@pytest.mark.parametrize("shadow", [False, True])
def test_a_disagreeing_shadow_changes_no_verdict_counter_or_plc_tag(
    tmp_path: Path, start_station: Callable[..., Running], shadow: bool
) -> None:
    release = write_brightness_release(tmp_path / "models", "cand", "1.0.0", -1.0)  # FAILs every part
    over = {"shadow": {"enabled": True, "release": str(release)}} if shadow else {}
    r = start_station(station_config(tmp_path, open_server(free_port()), **over))
    if shadow:
        assert wait_until(lambda: r.station.shadow_status().state == "running", 30)
    tags, counters = _run(r)

    # the same with and without the shadow (the parametrisation): what the script makes the live model say
    expect_pass = [i % 2 == 0 for i in range(PARTS)]
    assert [t["Pass"] for t in tags] == expect_pass
    assert [t["Fail"] for t in tags] == [not p for p in expect_pass]
    assert [t["ResultCode"] for t in tags] == [1 if p else 2 for p in expect_pass]
    assert [t["DefectCount"] for t in tags] == [0 if p else 1 for p in expect_pass]
    assert (counters["Total"], counters["Pass"], counters["Fail"], counters["YieldPct"]) == (6, 3, 3, 50.0)
    c = r.station.counters
    assert (c["total"], c["pass"], c["fail"], c["yield_pct"]) == (6, 3, 3, 50.0)
    r.link.stop()
    r.station.stop()
    with sqlite3.connect(r.db) as db:
        verdicts = [v for (v,) in db.execute("select verdict from inspections order by id")]
        shadow_rows = db.execute("select live_verdict, verdict, classes, shadow, model_id from shadow_results"
                                 " order by id").fetchall()  # fmt: skip
    assert verdicts == ["PASS" if p else "FAIL" for p in expect_pass]  # no shadow row among the live ones
    if not shadow:
        assert shadow_rows == []
        return
    assert shadow_rows == [("PASS" if p else "FAIL", "FAIL", json.dumps(["scratch"]), 1, "cand/1.0.0")
                           for p in expect_pass]  # fmt: skip
    with ResultsReader(r.db) as reader:
        a = shadow_agreement(reader, "cand/1.0.0")
    assert (a.parts, a.agreeing, a.skipped) == (6, 3, 0)
    assert a.verdicts == {"PASS->FAIL": 3, "FAIL->FAIL": 3}
    assert a.classes == {"scratch": (0, 6, 0), "short": (3, 0, 0)}


def test_shadow_report_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from inspect_app.station import Station
    from inspect_app.testing.fakes import ScriptedDetector, ScriptedSource, part_image

    release = write_brightness_release(tmp_path / "models", "cand", "2.0.0", -1.0)
    cfg = station_config(tmp_path, {"mode": "off"}, shadow={"enabled": True, "release": str(release)})
    st = Station(cfg, source=ScriptedSource([part_image(False), part_image(True)], loop=True),
                 detectors={"fake": ScriptedDetector()})  # fmt: skip
    st.start()
    assert wait_until(lambda: st.shadow_status().state == "running", 30)
    for i in range(4):
        st.trigger(f"R-{i}")
        assert wait_until(lambda i=i: st.shadow_status().judged + st.shadow_status().skipped > i, 30)
    from inspect_app.control import handle

    status = handle(st, {"cmd": "status"})  # what `inspect-app status` prints
    assert status["shadow"]["model_id"] == "cand/2.0.0" and status["shadow"]["judged"] == 4
    from inspect_app.control import SOCKET_NAME, ControlServer

    control = ControlServer(st, tmp_path / "state" / SOCKET_NAME)
    control.start()
    try:  # while the station runs, the report adds its tallies (skips are stored only at stop)
        assert main(["shadow", "report", "--state-dir", str(tmp_path / "state")]) == 0
        assert "running now: shadow cand/2.0.0 (running): 4 judged, 0 skipped" in capsys.readouterr().out
    finally:
        control.stop()
    st.stop()
    state = ["--state-dir", str(tmp_path / "state")]
    assert main(["shadow", "report", *state]) == 0
    out = capsys.readouterr().out
    assert "shadow cand/2.0.0: 4 parts judged" in out
    assert "verdict agreement with the live model: 50.0% (2 of 4)" in out
    assert main(["shadow", "report", "--json", *state]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data[0]["model_id"] == "cand/2.0.0" and data[0]["classes"]["scratch"]["shadow"] == 4
