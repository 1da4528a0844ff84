"""The shadow's own rules, on a real ShadowRunner with the project's scripted model: it gives way when the
line is busy or it is still busy itself (each skip counted), judges only parts the live model judged, and a
candidate that cannot load leaves it 'failed' without touching anything else."""

from __future__ import annotations

import time
from concurrent.futures import Future

from inspect_app.config import parse_config
from inspect_app.rules import RecipeRules, not_inspected
from inspect_app.shadow import ShadowRunner
from inspect_app.store.schema import ShadowResult
from inspect_app.testing.fakes import ScriptedDetector, part_image, wait_until
from inspect_app.types import CommittedInspection, Decision, Inspection, Verdict

CFG = parse_config({
    "recipes": {"r": {"model": "fake", "min_conf": 0.5}}, "active_recipe": "r",
    "shadow": {"enabled": True, "release": "unused", "nice": 0},
})  # fmt: skip


def committed(i: int, verdict: Verdict = Verdict.PASS, image: bool = True) -> CommittedInspection:
    decision = Decision(verdict) if verdict != Verdict.NOT_INSPECTED else not_inspected("CAMERA_ERROR", "x")
    insp = Inspection(f"p{i}", i, "software", "st", "r", "fake/1", "0" * 64, decision, (), {}, i, time.time(),
                      "scripted", image=part_image(True) if image else None)  # fmt: skip
    return CommittedInspection(i, insp, None, time.monotonic())


def runner(det: ScriptedDetector, busy: list[bool], rows: list[ShadowResult]) -> ShadowRunner:
    def record(r: ShadowResult) -> Future:
        rows.append(r)
        done: Future = Future()
        done.set_result(len(rows))
        return done

    def rules(name: str, names: tuple[str, ...]) -> RecipeRules:
        return RecipeRules(name, CFG.recipes[name], names)

    return ShadowRunner(CFG.shadow, lambda: det, rules, record, lambda: busy[0], 0.7)


def test_the_shadow_gives_way_and_counts_every_skip() -> None:
    det, busy, rows = ScriptedDetector(model_id="cand/2"), [False], []
    r = runner(det, busy, rows)
    r.start()
    assert r.ready.wait(10) and r.status().state == "running"
    assert r.offer(committed(1))
    assert wait_until(lambda: r.status().judged == 1)
    busy[0] = True  # a live part waits: the shadow skips
    assert not r.offer(committed(2))
    busy[0] = False
    det.hang()  # the shadow is busy with part 3: part 4 waits in its queue of one, part 5 is skipped
    assert r.offer(committed(3))
    assert wait_until(lambda: det.calls == 2)
    assert r.offer(committed(4))
    assert not r.offer(committed(5))
    det.release()
    assert wait_until(lambda: r.status().judged == 3)
    assert not r.offer(committed(6, Verdict.NOT_INSPECTED))  # nothing the live model judged: not a skip
    assert not r.offer(committed(7, image=False))
    s = r.stop()
    assert (s.judged, s.skipped, s.state) == (3, 2, "stopped")
    assert [row.inspection_id for row in rows] == [1, 3, 4]
    assert {(row.live_verdict, row.verdict, row.classes) for row in rows} == {("PASS", "FAIL", ("short",))}
    assert s.verdicts == {"PASS->FAIL": 3} and s.agreeing == 0 and s.classes == {"short": (0, 3, 0)}


def test_a_candidate_that_does_not_load_leaves_the_shadow_failed() -> None:
    def broken() -> ScriptedDetector:
        raise RuntimeError("no such release")

    rows: list[ShadowResult] = []
    r = ShadowRunner(CFG.shadow, broken, lambda *a: None, rows.append, lambda: False, 0.7)  # type: ignore[arg-type]
    r.start()
    assert r.ready.wait(10)
    assert r.status().state == "failed" and "no such release" in (r.status().error or "")
    assert not r.offer(committed(1))
    assert r.stop().skipped == 1 and rows == []
