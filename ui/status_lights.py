"""Status lights with text: station state, camera, model, PLC/OPC UA link(s), database, disk space.

A light is never only a colour: each has words, for the colour-blind and for the phone photo sent to the
engineer. The station state is shown with the OPC UA Machine Vision names the PLC sees (Preoperational,
Operational: Ready / ContinuousExecution, Error, Halted). A link without security says "UNSECURED" in its
text and is never green. Camera, database, disk and links are read from the station's health snapshot
(``inspect_app.health``): whether a link is secured is a field there, never guessed from a text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PyQt6.QtCore import QRectF, Qt
from PyQt6.QtGui import QColor, QFont, QPainter
from PyQt6.QtWidgets import QFrame, QGridLayout, QLabel, QSizePolicy, QWidget

from inspect_app.config import StationConfig
from inspect_app.detector.describe import describe
from inspect_app.health import HealthSnapshot, LinkHealth
from inspect_app.state import StationState
from inspect_app.station import Station
from ui.fit_label import FitLabel
from ui.i18n import QT_TRANSLATE_NOOP, Retranslatable, translate
from ui.reason_text import error_title

OK, WARN, ERROR, OFF = "ok", "warn", "error", "off"
LEVEL_COLOURS = {OK: "#2E7D32", WARN: "#F9A825", ERROR: "#C62828", OFF: "#78909C"}
TITLES = {
    "state": QT_TRANSLATE_NOOP("StatusLights", "Station"),
    "camera": QT_TRANSLATE_NOOP("StatusLights", "Camera"),
    "model": QT_TRANSLATE_NOOP("StatusLights", "Model"),
    "shadow": QT_TRANSLATE_NOOP("StatusLights", "Shadow"),
    "link": QT_TRANSLATE_NOOP("StatusLights", "PLC link"),
    "db": QT_TRANSLATE_NOOP("StatusLights", "Database"),
    "disk": QT_TRANSLATE_NOOP("StatusLights", "Disk"),
}
# the OPC UA Machine Vision state names the PLC sees, in the operator's language
STATE_NAMES = {
    StationState.PREOPERATIONAL: QT_TRANSLATE_NOOP("StatusLights", "Preoperational"),
    StationState.READY: QT_TRANSLATE_NOOP("StatusLights", "Ready"),
    StationState.CONTINUOUS: QT_TRANSLATE_NOOP("StatusLights", "ContinuousExecution"),
    StationState.ERROR: QT_TRANSLATE_NOOP("StatusLights", "Error"),
    StationState.HALTED: QT_TRANSLATE_NOOP("StatusLights", "Halted"),
}
TEXT_PX = 14  # read at arm's length, beside the counters that are read from two metres


def state_name(state: StationState) -> str:
    """The state in the operator's language; a translation keeps the OPC UA name beside its own words
    (the name the PLC programmer and the docs use): 就绪（Ready）."""
    return translate("StatusLights", STATE_NAMES[state])


@dataclass
class StatusInputs:
    station: Station | None
    phase: str  # "starting", "running", "stopping", "stopped", "failed"
    config: StationConfig
    start_error: str | None = None
    camera_error: str | None = None  # last camera error message while the camera is failing
    store_error: str | None = None  # last DB error while commits fail
    health: dict[str, Any] = field(default_factory=dict)  # from DbReader "health" (with its "snapshot")

    @property
    def snapshot(self) -> HealthSnapshot | None:
        return self.health.get("snapshot")


def source_text(cfg: StationConfig) -> str:
    s = cfg.source
    if s.kind == "synthetic":
        return f"synthetic {s.style} {s.width}×{s.height}"
    if s.kind == "folder":
        return f"folder {s.path.name}/{s.pattern}"
    uri = str(s.uri)
    if "@" in uri and "://" in uri:  # rtsp://user:password@camera: never put a password on the screen
        scheme, rest = uri.split("://", 1)
        uri = f"{scheme}://{rest.split('@', 1)[1]}"
    return f"opencv {uri}"


def assess(i: StatusInputs) -> list[tuple[str, str, str]]:
    """(key, level, text) for each light."""
    st = i.station
    out: list[tuple[str, str, str]] = []
    # station state, as the OPC UA side reports it
    if st is None:
        phases = {
            "starting": translate("StatusLights", "Preoperational (starting)"),
            "stopping": translate("StatusLights", "Stopping: saving results"),
            "failed": translate("StatusLights", "Start failed: {0}").format(i.start_error or ""),
        }
        text = phases.get(i.phase, state_name(StationState.HALTED))
        out.append(("state", ERROR if i.phase == "failed" else OFF, text))
    elif st.state == StationState.ERROR:
        code = st.error_code or ""
        title = error_title(code)
        shown = f"{code} · {title}" if title and title != code else code
        out.append(("state", ERROR, translate("StatusLights", "Error: {0}").format(shown)))
    elif st.state.operational:
        text = translate("StatusLights", "Operational · {0} · recipe {1}")
        text = text.format(state_name(st.state), st.recipe)
        out.append(("state", OK, text))
    else:
        out.append(("state", OFF, state_name(st.state)))
    # camera: the source the station really reads (a test or a bench may hand it one)
    acquire = getattr(st, "acquire", None)
    src = source_text(i.config)
    if acquire is not None and i.config.source.kind == "synthetic":
        src = getattr(acquire.source, "name", "") or src
    snap = i.snapshot if st is not None else None
    if st is None:
        out.append(("camera", OFF, src))
    elif i.camera_error or st.error_code == "CAMERA_ERROR" or (snap is not None and not snap.camera.ok):
        why = i.camera_error or (snap.camera.detail if snap else "") or translate("StatusLights", "no frames")
        out.append(("camera", ERROR, f"{src}: {why}"))
    else:
        live = snap is not None and snap.camera.state not in ("ok", "closed")
        out.append(("camera", OK, src + (f" · {snap.camera.state}" if live and snap else "")))
    # model of the active recipe
    if st is None:
        model = Path(i.config.recipes[i.config.active_recipe].model)
        out.append(("model", OFF, f"{model.parent.name} {model.name}"))
    else:
        det = st.models().get(st.config.recipes[st.recipe].model)
        if det is None:
            out.append(("model", ERROR, translate("StatusLights", "not loaded")))
        else:
            info = det.info  # precision: what auto chose at start (docs/performance.md), as the snapshot says
            choice = getattr(det, "precision_choice", None)  # ", auto" only where auto timed a choice
            auto = ", " + translate("StatusLights", "auto") if choice is not None and choice.median_ms else ""
            out.append(("model", OK, f"{info.name} {info.version} ({info.backend} {info.precision}{auto})"))
    shadow = st.shadow_status() if st is not None else None
    if shadow is not None:
        out.append(("shadow", *shadow_light(shadow, i.config.promotion.agreement_min)))
    # links
    links = snap.links if snap is not None else ()
    if not links:
        if i.config.opcua.mode == "off":
            out.append(("link", OFF, translate("StatusLights", "none configured")))
        else:  # configured, and the station is stopped (or starting): say what it would be
            out.append(("link", OFF, translate("StatusLights", "{0} ({1}): not running").format(
                "opcua", i.config.opcua.mode)))
    for link in links:
        out.append(("link", *link_light(link)))
    # database
    if snap is not None and not snap.db.ok:
        out.append(("db", ERROR, snap.db.detail))
    elif i.store_error:
        out.append(("db", ERROR, i.store_error))
    elif i.health.get("db_ok"):
        mb = i.health.get("db_bytes", 0) / 1e6
        out.append(("db", OK, translate("StatusLights", "{0} · {1:.1f} MB").format(i.config.store.db, mb)))
    else:
        why = i.health.get("db_error") or translate("StatusLights", "not open yet")
        out.append(("db", OFF if st is None else WARN, why))
    # disk
    free = i.health.get("disk_free")
    if snap is not None and not snap.disk.ok:
        out.append(("disk", ERROR if snap.disk.state == "full" else WARN, snap.disk.detail))
    elif free is None:
        out.append(("disk", OFF, "…"))
    else:
        r = i.config.store.retention
        free_mb = free / 1e6
        level = ERROR if free_mb < r.stop_saving_free_mb else WARN if free_mb < r.min_free_mb else OK
        text = translate("StatusLights", "{0:.1f} GB free").format(free / 1e9)
        if level == ERROR:
            text += " · " + translate("StatusLights", "images not saved")
        out.append(("disk", level, text))
    return out


def model_detail(st: Station | None) -> str:
    """The active recipe's model as the station describes it (streams; auto's timings and what it did not
    try): the model light's tooltip, too long for the light's own text."""
    if st is None:
        return ""
    det = st.models().get(st.config.recipes[st.recipe].model)
    return describe(det) if det is not None else ""


def shadow_light(s: Any, agreement_min: float) -> tuple[str, str]:
    """The shadow model's light (``inspect_app.shadow.ShadowStatus``): its verdict agreement with the live
    model, per verdict and per class. Amber below the promotion gate's agreement, never red: the shadow
    decides nothing, so nothing it does is an error of the line."""
    if s.state == "failed":
        return WARN, translate("StatusLights", "{0}: not running: {1}").format(s.model_id, s.error or "")
    if s.state == "loading":
        return OFF, translate("StatusLights", "{0}: loading").format(s.model_id)
    if not s.judged:
        text = translate("StatusLights", "{0}: no part judged yet, {1} skipped").format(s.model_id, s.skipped)
        return OFF, text
    agree = s.agreeing / s.judged
    text = translate("StatusLights", "{0}: {1:.1f} % agree on {2} parts, {3} skipped").format(
        s.model_id, 100 * agree, s.judged, s.skipped)  # fmt: skip
    flips = [f"{pair.replace('->', '→')} {n}" for pair, n in sorted(s.verdicts.items())
             if pair in ("PASS->FAIL", "FAIL->PASS") and n]  # fmt: skip
    if flips:
        text += " · " + ", ".join(flips)
    classes = []
    for name, (live, shadow, both) in s.classes.items():
        either = live + shadow - both
        if either:
            classes.append(f"{name} {100 * both / either:.0f} %")
    if classes:
        text += " · " + translate("StatusLights", "per class: {0}").format(", ".join(classes))
    return (OK if agree >= agreement_min else WARN), text


def link_light(link: LinkHealth) -> tuple[str, str]:
    """A link's light. Green only when connected and secured; a server with no client is amber (the PLC
    is not there), and an unsecured link says so first, with its security mode."""
    if link.mode == "server" and link.peers is not None:
        state = translate("StatusLights", "server {0}, {1} client(s)").format(link.endpoint, link.peers)
        up = link.connected and link.peers > 0
    else:
        up = link.connected
        state = translate("StatusLights", "connected") if up else translate("StatusLights", "not connected")
        if link.detail:
            state += f" · {link.detail}"
    if link.faults:
        state += " · " + translate("StatusLights", "fault {0}").format(", ".join(link.faults))
    if link.secured:
        return (OK if up and not link.faults else WARN), f"{link.name}: {state} · {link.security_mode}"
    mode = link.security_mode.split("(")[0].strip() or "None"
    unsecured = translate("StatusLights", "UNSECURED")
    return WARN, f"{unsecured} ({mode}) · {link.name}: {state}"


class Light(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFixedSize(20, 20)
        self.level = OFF

    def set_level(self, level: str) -> None:
        if level != self.level:
            self.level = level
            self.update()

    def paintEvent(self, _event: object) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setBrush(QColor(LEVEL_COLOURS[self.level]))
        p.setPen(QColor("#222222"))
        p.drawEllipse(QRectF(2, 2, 16, 16))
        p.end()


class StatusLights(Retranslatable, QFrame):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        # never squeezed below its text: the charts under it give way instead
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        self.grid = QGridLayout(self)
        self.grid.setVerticalSpacing(2)  # six rows fit beside the live image on a 768-pixel screen
        self.grid.setContentsMargins(8, 3, 8, 3)
        self.grid.setColumnStretch(2, 1)
        self.rows: list[tuple[Light, FitLabel, QLabel]] = []
        self.items: list[tuple[str, str, str]] = []

    def set_items(self, items: list[tuple[str, str, str]]) -> None:
        if items == self.items:
            return
        self.items = items
        while len(self.rows) < len(items):
            light, title, text = Light(), FitLabel(px=TEXT_PX, min_px=11, bold=True), QLabel()
            font = QFont(text.font())
            font.setPixelSize(TEXT_PX)  # a font, not a style sheet: the label's metrics then know its size
            text.setFont(font)
            text.setWordWrap(True)
            text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            n = len(self.rows)
            self.grid.addWidget(light, n, 0)
            self.grid.addWidget(title, n, 1)
            self.grid.addWidget(text, n, 2)
            self.rows.append((light, title, text))
        for n, (light, title, text) in enumerate(self.rows):
            visible = n < len(items)
            for w in (light, title, text):
                w.setVisible(visible)
            if visible:
                key, level, words = items[n]
                light.set_level(level)
                title.setText(translate("StatusLights", TITLES[key]))
                text.setText(words)

    def set_tooltip(self, key: str, tip: str) -> None:
        """The tooltip of the text of the light ``key`` (after ``set_items``)."""
        for n, (k, _lvl, _words) in enumerate(self.items):
            if k == key:
                self.rows[n][2].setToolTip(tip)

    def tooltip_of(self, key: str) -> str:
        return " | ".join(self.rows[n][2].toolTip() for n, (k, _, _) in enumerate(self.items) if k == key)

    def text_of(self, key: str) -> str:
        """All texts of the lights of ``key`` (for tests and the status bar)."""
        return " | ".join(words for k, _lvl, words in self.items if k == key)

    def retranslate(self) -> None:
        items, self.items = self.items, []
        self.set_items(items)
