"""MES sees a promotion over OPC UA: the active model's name, version, sha256 and precision change in the
Counters variables, and a ModelChangedEvent says from which model to which. Real station with tiny real
releases (onnxruntime), real OPC UA server on 127.0.0.1, the window's gated switch (``promote_on_station``).
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from asyncua import Client, ua

from inspect_app.model_release import load_release
from inspect_app.promotion import GateRefused, promote_on_station
from inspect_app.station import Station
from inspect_app.testing.const_models import gray_image, write_brightness_release
from inspect_app.testing.fakes import ScriptedSource
from plc.link import make_link
from plc.testing import Recorder, Vision, free_port, open_server, station_config

VARS = ("ModelName", "ModelVersion", "ModelSha256", "ModelPrecision")


def test_promotion_changes_the_model_variables_and_sends_an_event(tmp_path: Path) -> None:
    models = tmp_path / "models"
    live = write_brightness_release(models, "line", "1.0.0", 0.5)
    better = write_brightness_release(models, "line", "1.1.0", 0.55)  # the same verdicts on these parts
    blind = write_brightness_release(models, "line", "9.0.0", 2.0)
    cfg = station_config(
        tmp_path, open_server(free_port()),
        recipes={"r": {"model": str(live), "min_conf": 0.5}}, active_recipe="r",
        detector={"backend": "onnxruntime", "threads": 1, "precision": "f32"},
        store={"save_pass_every": 1, "commit_interval_ms": 2, "image_format": "png"},
    )  # fmt: skip
    st = Station(cfg, source=ScriptedSource([gray_image(v) for v in (30, 200, 60, 220)], loop=True))
    st.start()
    link = make_link(cfg)
    assert link is not None
    link.start(st)
    try:
        for i in range(4):
            st.trigger(f"M-{i}")
        assert st.wait_for_results(4, timeout=30)
        fail_id = st.last_result.inspection_id  # type: ignore[union-attr]  # 220: FAIL
        st.review(fail_id, "confirmed_defect", "quinn").result(timeout=10)

        async def go() -> tuple[list, list, list]:
            async with Client(cfg.opcua.endpoint) as c:
                v = await Vision.connect(c)
                rec = Recorder()
                sub = await c.create_subscription(0, rec)
                base = c.get_node(ua.ObjectIds.BaseEventType)
                etype = await base.get_child([f"{v.proj}:ModelChangedEventType"])
                await sub.subscribe_events(v.mv_node(""), etype)
                nodes = [v.proj_node(f"Counters.{n}") for n in VARS]
                before = await c.read_values(nodes)
                loop = asyncio.get_running_loop()
                with pytest.raises(GateRefused, match="confirmed defects"):  # the blind model lets it pass
                    await loop.run_in_executor(None, promote_on_station, st, "r", str(blind), "erin")
                result, future = await loop.run_in_executor(
                    None, promote_on_station, st, "r", str(better), "erin"
                )
                assert result.passed, result.lines()
                await loop.run_in_executor(None, future.result, 10)
                for _ in range(500):
                    if rec.events and (await c.read_values(nodes))[1] == "1.1.0":
                        break
                    await asyncio.sleep(0.01)
                return before, await c.read_values(nodes), rec.events

        before, after, events = asyncio.run(go())
    finally:
        link.stop()
        st.stop()
    sha = {p: load_release(p).sha256("model.onnx") for p in (live, better)}
    assert before == ["line", "1.0.0", sha[live], "f32"]
    assert after == ["line", "1.1.0", sha[better], "f32"]
    assert len(events) == 1
    ev = events[0]
    assert (ev.ModelId, ev.PreviousModelId, ev.ModelSha256, ev.PreviousModelSha256) == (
        "line/1.1.0", "line/1.0.0", sha[better], sha[live])  # fmt: skip
    assert (ev.ModelPrecision, ev.Recipe) == ("f32", "r")
    with sqlite3.connect(Path(cfg.state_dir) / "results.db") as db:
        actions = [a for (a,) in db.execute("select action from audit order by id")]
    assert actions[-3:] == ["model.promote.refused", "model.switch", "model.promote"]
