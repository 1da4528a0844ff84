"""The quality engineer's walk-through of docs/quality-engineer.md, made reproducible: a demo line with a
shadow model and a reviewed history, and the window's shadow light as a screenshot.

    .venv/bin/python bench/qe_walkthrough.py [--state-dir var/qe] [--parts 400] [--rate 5]

* copies the repository's releases (synth-pcb 0.2.0 and 0.3.0) and default.json into ``<state-dir>/models``,
  so promotions and rollbacks in the walk-through never touch ``models/`` (use it with
  ``INSPECT_APP_MODELS=<state-dir>/models``);
* runs the demo's recipes on synthetic PCB parts (generator seed 7, 30 % with defects, 640 x 640) at the
  demo's ``--rate`` with ``[shadow]`` = synth-pcb/0.3.0, results in ``<state-dir>/results.db``;
* reviews parts as a quality engineer would, from the generator's ground truth: every FAIL (a real defect:
  ``confirmed_defect``; none: ``false_reject``) and the PASS parts that had a defect (``missed_defect`` with
  its class and box: an escape found downstream);
* saves ``docs/screenshots/shadow_light.png`` (and ``_zh_CN``): the window's status lights, offscreen, with
  the shadow's agreement as the running station reports it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--state-dir", type=Path, default=REPO / "var" / "qe")
    p.add_argument("--parts", type=int, default=400)
    p.add_argument("--rate", type=float, default=5.0, help="parts/s, as the demo (default 5)")
    p.add_argument("--shots", type=Path, default=REPO / "docs" / "screenshots")
    p.add_argument("--shadow", default="synth-pcb/0.3.0", help="the shadow's release, NAME/VERSION")
    p.add_argument("--first", type=int, default=0, help="the generator's first part index (a second shift)")
    args = p.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    state = args.state_dir.resolve()
    models = state / "models"
    if not (models / "default.json").is_file():
        for v in ("0.2.0", "0.3.0"):
            shutil.copytree(REPO / "models" / "synth-pcb" / v, models / "synth-pcb" / v)
        shutil.copy(REPO / "models" / "default.json", models / "default.json")
    os.environ["INSPECT_APP_MODELS"] = str(models)
    from inspect_app.offline import configure_offline

    configure_offline(state)
    from inspect_app.demo import demo_config
    from inspect_app.releases import ReleaseRegistry
    from inspect_app.station import Station
    from inspect_app.synth.generator import PartGenerator
    from inspect_app.testing.fakes import ScriptedSource

    reg = ReleaseRegistry(models)
    live = reg.default_dir()
    base = demo_config(state_dir=state, model_dir=live)
    candidate = str(reg.path(args.shadow))
    cfg = base.model_copy(update={
        "trigger": base.trigger.model_copy(update={"mode": "software"}),
        "opcua": base.opcua.model_copy(update={"mode": "off"}),
        "shadow": base.shadow.model_copy(update={"enabled": True, "release": candidate}),
    })  # fmt: skip
    gen = PartGenerator("pcb", 640, 640, seed=7, defect_rate=0.3, zoom=2.0)
    parts = [gen.generate(args.first + i) for i in range(args.parts)]
    st = Station(cfg, source=ScriptedSource([p.image for p in parts]))
    st.start()
    assert _wait(lambda: st.shadow_status().state == "running", 120), st.shadow_status()
    ids: dict[str, int] = {}
    st.add_result_listener(lambda r: ids.__setitem__(r.inspection.part_id, r.inspection_id))
    t0 = time.monotonic()
    for i in range(args.parts):
        _sleep_until(t0 + i / args.rate)
        st.trigger(f"qe-{args.first + i:05d}")
    assert st.wait_for_results(args.parts, 600)
    seen = st.shadow_status
    _wait(lambda: len(ids) >= args.parts and seen().judged + seen().skipped >= args.parts, 60)
    from inspect_app.store.read import ResultsReader

    with ResultsReader(state / "results.db") as r:
        verdicts = {rec.part_id: rec for rec in r.recent(args.parts + 10)}
    reviews = {"confirmed_defect": 0, "false_reject": 0, "missed_defect": 0}
    for i, part in enumerate(parts):
        rec = verdicts.get(f"qe-{args.first + i:05d}")
        if rec is None:
            continue
        truth = part.truth or ()
        if rec.verdict == "FAIL":
            kind = "confirmed_defect" if truth else "false_reject"
            st.review(rec.id, kind, "quinn", note="walk-through, from ground truth")
        elif rec.verdict == "PASS" and truth:
            t = truth[0]
            kind = "missed_defect"
            st.review(rec.id, kind, "quinn", class_name=t.class_name, box=t.box, note="found at final test")
        else:
            continue
        reviews[kind] += 1
    shots = _screenshot(st, args.shots)
    status = st.shadow_status()
    st.audit("quinn", "engineer", "walkthrough.reviews", "results", None, reviews).result(timeout=10)
    st.stop()
    c = st.counters
    print(json.dumps({"parts": args.parts, "pass": c["pass"], "fail": c["fail"], "reviews": reviews,
                      "shadow": status.as_dict() if status else None, "screenshots": shots,
                      "models": str(models)}, indent=2))  # fmt: skip
    return 0


def _screenshot(st: object, out: Path) -> list[str]:
    from PyQt6.QtWidgets import QApplication

    from ui.qt_env import clean_qt_env

    clean_qt_env()
    app = QApplication.instance() or QApplication([])
    from ui.i18n import Translations
    from ui.status_lights import StatusInputs, StatusLights, assess

    translations = Translations(app)
    lights = StatusLights()
    lights.setFixedWidth(760)  # the width the lights have beside the live image in a 1600-wide window
    written = []
    for lang, name in (("en", "shadow_light.png"), ("zh_CN", "shadow_light_zh_CN.png")):
        translations.set_language(lang)
        cfg = st.config  # type: ignore[attr-defined]
        inputs = StatusInputs(st, "running", cfg, health={"db_ok": True, "db_bytes": 0})  # type: ignore[arg-type]
        lights.set_items(assess(inputs))
        lights.adjustSize()
        lights.show()
        app.processEvents()
        out.mkdir(parents=True, exist_ok=True)
        lights.grab().save(str(out / name))
        written.append(str(out / name))
    translations.set_language("en")
    lights.close()
    return written


def _wait(pred, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return bool(pred())


def _sleep_until(t: float) -> None:
    left = t - time.monotonic()
    if left > 0:
        time.sleep(left)


if __name__ == "__main__":
    raise SystemExit(main())
