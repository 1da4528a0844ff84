"""VisionSystem methods, ResultReadyEvent, recipes, counters and results over real OPC UA."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from asyncua import Client, ua

from inspect_app.testing.fakes import DEFECT_MARK, ScriptedDetector
from inspect_app.types import Detection
from plc.testing import Recorder, Running, Vision, free_port, open_server, station_config, wait_until

AUTO = "VisionStateMachine.AutomaticModeStateMachine"


@pytest.fixture
def running(tmp_path: Path, start_station: Callable[..., Running]) -> Running:
    return start_station(station_config(tmp_path, open_server(free_port())))


def _status(exc: BaseException) -> str:
    assert isinstance(exc, ua.UaStatusCodeError), repr(exc)
    return type(exc).__name__


async def _state(v: Vision) -> tuple[str, str]:
    top = await v.mv_node("VisionStateMachine.CurrentState").read_value()
    auto = await v.mv_node(f"{AUTO}.CurrentState").read_value()
    return top.Text, auto.Text or ""


def test_single_job_and_result_ready_event(running: Running) -> None:
    async def go() -> tuple[str, list, tuple[str, str]]:
        async with Client(running.url) as c:
            await c.load_data_type_definitions()
            v = await Vision.connect(c)
            rec = Recorder()
            sub = await c.create_subscription(0, rec)
            await sub.subscribe_events(v.mv_node(""), await _result_event_type(c, v))
            state = await _state(v)
            job = await v.call(f"{AUTO}.StartSingleJob", "M-7", "J-1", "strict", "prod-9")
            await v.call(f"{AUTO}.StartSingleJob", "M-8", "J-2", "", "")
            for _ in range(500):
                if len(rec.events) >= 2:
                    break
                await asyncio.sleep(0.01)
            return job, rec.events, state

    job, events, state = asyncio.run(go())
    assert state == ("Operational", "Ready")
    assert isinstance(job, str) and job
    assert len(events) == 2
    ev = events[0]
    assert ev.JobId == job and ev.PartId == "J-1" and ev.MeasId == "M-7" and ev.ProductId == "prod-9"
    assert ev.ResultState == 1 and ev.IsPartial is False  # Completed
    assert ev.InternalRecipeId == "strict" and ev.Verdict == "PASS" and ev.DefectCount == 0
    assert int(ev.ResultId) >= 1
    times = ev.ProcessingTimes
    assert times.EndTime >= times.StartTime and times.ProcessingDuration >= 0
    assert [x.Value for x in ev.ResultContent] == ["PASS", 0, []]
    fail = events[1]
    assert fail.PartId == "J-2" and fail.Verdict == "FAIL" and fail.DefectCount == 1
    assert fail.DefectClasses == ["short"] and [x.Value for x in fail.ResultContent] == ["FAIL", 1, ["short"]]
    assert fail.ResultId != ev.ResultId


def test_defects_are_the_ones_the_recipe_counted_detections_apart(
    tmp_path: Path, start_station: Callable[..., Running]
) -> None:
    """Recipe "lenient" allows up to 5 shorts; any pit fails. A part with 2 shorts PASSes with no defect; a
    part with 2 shorts and a pit FAILs with one defect, the pit, though the model reported three boxes."""

    def rule(image: np.ndarray) -> list[Detection]:
        shorts = [Detection(3, "short", 0.9, (10.0, 10.0, 30.0, 20.0 + i)) for i in range(2)]
        pit = [Detection(1, "pit", 0.8, (40.0, 40.0, 50.0, 50.0))] if image[0, 0, 0] == DEFECT_MARK else []
        return shorts + pit

    cfg = station_config(tmp_path, open_server(free_port()), active_recipe="lenient")
    r = start_station(cfg, detector=ScriptedDetector(rule=rule))

    async def go() -> tuple[dict, dict, list]:
        async with Client(r.url) as c:
            await c.load_data_type_definitions()
            v = await Vision.connect(c)
            rec = Recorder()
            sub = await c.create_subscription(0, rec)
            await sub.subscribe_events(v.mv_node(""), await _result_event_type(c, v))
            passed = await v.inspect("D-1")  # the script alternates: clean, then marked
            failed = await v.inspect("D-2")
            for _ in range(500):
                if len(rec.events) >= 2:
                    break
                await asyncio.sleep(0.01)
            return passed, failed, rec.events

    passed, failed, events = asyncio.run(go())
    assert (passed["Pass"], passed["DefectCount"], passed["DetectionCount"]) == (True, 0, 2)
    assert (failed["Fail"], failed["DefectCount"], failed["DetectionCount"]) == (True, 1, 3)
    ev_pass, ev_fail = events
    assert (ev_pass.DefectCount, ev_pass.DefectClasses, ev_pass.DetectionCount) == (0, [], 2)
    assert [x.Value for x in ev_pass.ResultContent] == ["PASS", 0, []]
    assert (ev_fail.DefectCount, ev_fail.DefectClasses, ev_fail.DetectionCount) == (1, ["pit"], 3)
    assert [x.Value for x in ev_fail.ResultContent] == ["FAIL", 1, ["pit"]]


def test_unknown_recipe_in_recipeselect_is_refused_and_not_kept(running: Running) -> None:
    async def go() -> dict:
        out: dict = {}
        async with Client(running.url) as c:
            v = await Vision.connect(c)
            rec = Recorder()
            sub = await c.create_subscription(0, rec)
            etype = await c.get_node(ua.ObjectIds.BaseEventType).get_child([f"{v.mv}:ErrorEventType"])
            await sub.subscribe_events(v.mv_node(""), etype)
            node = v.proj_node("Configuration.RecipeSelect")
            try:
                await node.write_value("no-such-recipe")
                out["write"] = "Good"
            except ua.UaStatusCodeError as exc:
                out["write"] = _status(exc)
            out["value"] = await node.read_value()
            # in one request with a good item: the good one is written, the bad one refused
            statuses = await c.uaclient.write(
                ua.WriteParameters(
                    NodesToWrite=[
                        ua.WriteValue(
                            NodeId=node.nodeid,
                            AttributeId=ua.AttributeIds.Value,
                            Value=ua.DataValue(ua.Variant("nope", ua.VariantType.String)),
                        ),
                        ua.WriteValue(
                            NodeId=v.hs("PartId").nodeid,
                            AttributeId=ua.AttributeIds.Value,
                            Value=ua.DataValue(ua.Variant("P-9", ua.VariantType.String)),
                        ),
                    ]
                )
            )
            out["mixed"] = [s.name for s in statuses]
            out["part_id"] = await v.hs("PartId").read_value()
            for _ in range(300):
                if len(rec.events) >= 2:
                    break
                await asyncio.sleep(0.01)
            out["events"] = [e.ErrorCode for e in rec.events]
            out["value_after"] = await node.read_value()
        return out

    out = asyncio.run(go())
    assert out["write"] == "BadOutOfRange"
    assert out["value"] == "strict" and out["value_after"] == "strict"
    assert running.station.recipe == "strict"
    assert out["mixed"] == ["BadOutOfRange", "Good"] and out["part_id"] == "P-9"
    assert out["events"] == ["UNKNOWN_RECIPE", "UNKNOWN_RECIPE"]


async def _result_event_type(c: Client, v: Vision) -> ua.NodeId:
    types = c.get_node(ua.ObjectIds.BaseEventType)
    return (await types.get_child([f"{v.mv}:ResultReadyEventType"])).nodeid


def test_illegal_transitions_return_bad_status(running: Running) -> None:
    async def go() -> dict:
        out: dict = {}
        async with Client(running.url) as c:
            v = await Vision.connect(c)
            for name, path, args in (
                ("stop_in_ready", f"{AUTO}.Stop", ()),
                ("abort_in_ready", f"{AUTO}.Abort", ()),
                ("select_auto_in_operational", "VisionStateMachine.SelectModeAutomatic", ()),
                ("reset_with_nothing_to_reset", "VisionStateMachine.Reset", ()),
                ("job_with_unprepared_recipe", f"{AUTO}.StartSingleJob", ("", "X", "lenient", "")),
                ("job_missing_arguments", f"{AUTO}.StartSingleJob", ("", "X")),
            ):
                try:
                    await v.call(path, *args)
                    out[name] = "Good"
                except ua.UaStatusCodeError as exc:
                    out[name] = _status(exc)
            await v.call("VisionStateMachine.Halt")
            out["halted"] = await _state(v)
            try:
                await v.call(f"{AUTO}.StartSingleJob", "", "X", "", "")
            except ua.UaStatusCodeError as exc:
                out["job_when_halted"] = _status(exc)
            await v.write(PartId="T-halted", Trigger=True)  # the flat handshake is refused too, visibly
            out["trigger_fault"] = await v.wait_value(v.hs("FaultCode"), lambda x: x == 3)
            await v.write(Trigger=False)
            await v.call("VisionStateMachine.Reset")
            out["after_reset"] = await _state(v)
            await v.call("VisionStateMachine.SelectModeAutomatic")
            out["after_select"] = await _state(v)
            await v.call(f"{AUTO}.StartContinuous", "", "CONT", "", "")
            out["continuous"] = await _state(v)
            await v.wait_value(v.proj_node("Counters.Total"), lambda x: x >= 3)
            await v.call(f"{AUTO}.Stop")
            out["stopped"] = await _state(v)
        return out

    out = asyncio.run(go())
    assert out["stop_in_ready"] == "BadInvalidState"
    assert out["abort_in_ready"] == "BadInvalidState"
    assert out["select_auto_in_operational"] == "BadInvalidState"
    assert out["reset_with_nothing_to_reset"] == "BadInvalidState"
    assert out["job_with_unprepared_recipe"] == "BadInvalidArgument"
    assert out["job_missing_arguments"] == "BadArgumentsMissing"
    assert out["halted"] == ("Halted", "")
    assert out["job_when_halted"] == "BadInvalidState"
    assert out["trigger_fault"] == 3  # NOT_READY
    assert out["after_reset"] == ("Preoperational", "")
    assert out["after_select"] == ("Operational", "Ready")
    assert out["continuous"] == ("Operational", "ContinuousExecution")
    assert out["stopped"] == ("Operational", "Ready")
    assert wait_until(lambda: running.station.counters["total"] >= 3)
    # nothing the Halted system was asked to do was inspected; the refused trigger is counted
    assert running.link.status()["missed_triggers"] == 1


def test_recipe_change_over_opcua_reaches_the_station(running: Running) -> None:
    async def go() -> dict:
        out: dict = {}
        async with Client(running.url) as c:
            v = await Vision.connect(c)
            names, descriptions, prepared = await v.call("RecipeManagement.GetRecipeListFiltered", "*", 0)
            out["list"] = (names, descriptions, prepared)
            out["prepare"] = await v.call("RecipeManagement.PrepareRecipe", "lenient")
            out["recipe_after_prepare"] = running.station.recipe
            try:
                await v.call("RecipeManagement.PrepareRecipe", "no-such-recipe")
            except ua.UaStatusCodeError as exc:
                out["unknown"] = _status(exc)
            await v.call("RecipeManagement.UnprepareRecipe", "lenient")
            out["unprepared"] = await _state(v)
            await v.proj_node("Configuration.RecipeSelect").write_value("strict")  # the variable way
            out["after_select"] = await v.wait_value(
                v.proj_node("Counters.ActiveRecipe"), lambda x: x == "strict"
            )
            out["state_after_select"] = await _state(v)
        return out

    out = asyncio.run(go())
    assert out["list"] == (["strict", "lenient"], ["any defect fails", ""], "strict")
    assert out["prepare"] == ["lenient", True]
    assert out["recipe_after_prepare"] == "lenient"
    assert out["unknown"] == "BadInvalidArgument"
    assert out["unprepared"] == ("Operational", "Initialized")
    assert out["after_select"] == "strict" and running.station.recipe == "strict"
    assert out["state_after_select"] == ("Operational", "Ready")
    events = [e for e in _events(running) if e[0] == "recipe"]
    assert any("opcua" in msg for _, msg in events)


def _events(r: Running) -> list[tuple[str, str]]:
    import sqlite3

    conn = sqlite3.connect(f"file:{r.db}?mode=ro", uri=True)
    try:
        return conn.execute("select kind, message from events order by id").fetchall()
    finally:
        conn.close()


def test_counters_and_result_queries(running: Running) -> None:
    async def go() -> dict:
        async with Client(running.url) as c:
            v = await Vision.connect(c)
            for i in range(4):
                await v.inspect(f"K-{i}")  # PASS, FAIL, PASS, FAIL
            await v.wait_value(v.proj_node("Counters.Total"), lambda x: x == 4)
            names = [
                "Total",
                "Pass",
                "Fail",
                "NotInspected",
                "MissedTriggers",
                "YieldPct",
                "LastCycleTimeMs",
                "ActiveRecipe",
                "ModelName",
                "ModelVersion",
            ]
            counters = dict(
                zip(names, await c.read_values([v.proj_node(f"Counters.{n}") for n in names]), strict=True)
            )
            ids, rows = await v.call("ResultManagement.GetResultListFiltered", "", "FAIL", None, 10)
            one, err = await v.call("ResultManagement.GetResultById", ids[0], 0)
            missing = await v.call("ResultManagement.GetResultById", "999999", 0)
            return {
                "counters": counters,
                "ids": ids,
                "rows": json.loads(rows),
                "one": json.loads(one),
                "err": err,
                "missing": missing,
            }

    out = asyncio.run(go())
    c = out["counters"]
    assert (c["Total"], c["Pass"], c["Fail"], c["NotInspected"], c["MissedTriggers"]) == (4, 2, 2, 0, 0)
    assert c["YieldPct"] == 50.0 and c["LastCycleTimeMs"] > 0
    assert (c["ActiveRecipe"], c["ModelName"], c["ModelVersion"]) == ("strict", "fake", "1")
    assert [r["part_id"] for r in out["rows"]] == ["K-3", "K-1"]  # newest first, FAIL only
    assert out["one"]["part_id"] == "K-3" and out["err"] == 0
    assert out["one"]["detections"][0]["class_name"] == "short"
    assert out["missing"] == ["", -1]


def test_station_error_raises_error_event_and_reset_clears_it(
    tmp_path: Path, start_station: Callable[..., Running]
) -> None:
    cfg = station_config(tmp_path, open_server(free_port()), pipeline={"stall_timeout_s": 0.4})
    r = start_station(cfg)

    async def go() -> dict:
        out: dict = {}
        async with Client(r.url) as c:
            v = await Vision.connect(c)
            rec = Recorder()
            sub = await c.create_subscription(0, rec)
            etype = await c.get_node(ua.ObjectIds.BaseEventType).get_child([f"{v.mv}:ErrorEventType"])
            await sub.subscribe_events(v.mv_node(""), etype)
            r.detector.hang()
            await v.write(PartId="E-1", Trigger=True)
            for _ in range(500):
                if (await _state(v))[0] == "Error" and rec.events:
                    break
                await asyncio.sleep(0.01)
            out["state"] = await _state(v)
            out["events"] = [(e.ErrorCode, e.Message.Text) for e in rec.events]
            try:
                await v.call("VisionStateMachine.Reset")  # the model is still stuck
            except ua.UaStatusCodeError as exc:
                out["early_reset"] = _status(exc)
            r.detector.release()
            for _ in range(300):
                try:
                    await v.call("VisionStateMachine.Reset")
                    break
                except ua.UaStatusCodeError:
                    await asyncio.sleep(0.02)
            out["after"] = await _state(v)
        return out

    out = asyncio.run(go())
    assert out["state"] == ("Error", "")
    assert any(code == "STAGE_STALLED" for code, _ in out["events"]), out["events"]
    assert out["early_reset"] == "BadInvalidState"
    assert out["after"] == ("Operational", "Ready")
