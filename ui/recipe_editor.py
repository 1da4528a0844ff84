"""Engineer mode: edit a recipe (thresholds per class, ROI, max counts, the camera's settings for it) and
switch its model release.

The editor only builds a validated ``RecipeConfig`` (pydantic, the same schema as the config file) and
emits it; the window checks the role and hands it to the station, which validates it against the model's
classes, applies it from the next part and writes the audit row. Edits live as long as the station runs;
the config file is not rewritten: an edit that should survive a restart goes into station.toml too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError
from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from inspect_app.config import PolygonROI, RecipeConfig, RectROI
from inspect_app.releases import ReleaseRegistry
from ui.i18n import QT_TRANSLATE_NOOP, Retranslatable, translate
from ui.overlay import class_colour
from ui.replay_preview import PreviewSource, ReplayPreview

CLASS_COLUMNS = (
    QT_TRANSLATE_NOOP("RecipeEditor", "Class"),
    QT_TRANSLATE_NOOP("RecipeEditor", "Min confidence"),
    QT_TRANSLATE_NOOP("RecipeEditor", "Min area px²"),
    QT_TRANSLATE_NOOP("RecipeEditor", "Max count"),
    QT_TRANSLATE_NOOP("RecipeEditor", "Ignore"),
)
ROI_KINDS = (
    ("none", QT_TRANSLATE_NOOP("RecipeEditor", "Whole image")),
    ("rect", QT_TRANSLATE_NOOP("RecipeEditor", "Rectangle")),
    ("polygon", QT_TRANSLATE_NOOP("RecipeEditor", "Polygon")),
)


def find_releases(root: Path) -> list[Path]:
    """Model release directories (``<root>/<name>/<version>/manifest.json``), from the one registry."""
    return ReleaseRegistry(root).dirs()


class RecipeEditor(Retranslatable, QDialog):
    apply_requested = pyqtSignal(str, object)  # recipe name, RecipeConfig
    switch_model_requested = pyqtSignal(str, str)  # recipe name, model dir

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.resize(900, 720)
        self.recipes: dict[str, RecipeConfig] = {}
        self.class_names: dict[str, tuple[str, ...]] = {}  # model dir -> classes
        self.recipe_box = QComboBox()
        self.recipe_box.currentTextChanged.connect(self._show_recipe)
        self.description = QLineEdit()
        self.model_box = QComboBox()
        self.model_box.setEditable(True)
        self.switch_button = QPushButton()
        self.switch_button.clicked.connect(self._switch)
        self.min_conf = _spin(0.0, 1.0, 0.05, 2)
        self.min_area = _spin(0.0, 1e7, 10.0, 0)
        self.max_count = QSpinBox()
        self.max_count.setRange(0, 10_000)
        self.table = QTableWidget(0, len(CLASS_COLUMNS))
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.roi_kind = QComboBox()
        self.roi_kind.currentIndexChanged.connect(self._roi_kind_changed)
        self.roi_rect = [_spin(0.0, 100_000.0, 1.0, 0) for _ in range(4)]
        self.roi_points = QLineEdit()
        # GenICam cameras: empty = what [source] or the camera has; features as "Name=value; Name=value"
        self.exposure = QLineEdit()
        self.gain = QLineEdit()
        self.features = QLineEdit()
        self.message = QLabel()
        self.message.setWordWrap(True)
        # what the edit would have decided on the last parts, before Apply (computed off the Qt thread)
        self.preview = ReplayPreview(self)
        for spin in (self.min_conf, self.min_area, *self.roi_rect):
            spin.valueChanged.connect(self._edited)
        self.max_count.valueChanged.connect(self._edited)
        self.table.itemChanged.connect(self._edited)
        self.roi_kind.currentIndexChanged.connect(self._edited)
        self.roi_points.textChanged.connect(self._edited)
        self.apply_button = QPushButton()
        self.apply_button.clicked.connect(self._apply)
        self.close_button = QPushButton()
        self.close_button.clicked.connect(self.close)

        self.labels = {k: QLabel() for k in ("recipe", "description", "model", "min_conf", "min_area",
                                              "max_count", "roi_kind", "roi_rect", "roi_points", "exposure",
                                              "gain", "features")}  # fmt: skip
        top = QFormLayout()
        top.addRow(self.labels["recipe"], self.recipe_box)
        top.addRow(self.labels["description"], self.description)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model_box, 1)
        model_row.addWidget(self.switch_button)
        top.addRow(self.labels["model"], model_row)
        self.defaults_group = QGroupBox()
        defaults = QFormLayout(self.defaults_group)
        defaults.addRow(self.labels["min_conf"], self.min_conf)
        defaults.addRow(self.labels["min_area"], self.min_area)
        defaults.addRow(self.labels["max_count"], self.max_count)
        self.classes_group = QGroupBox()
        QVBoxLayout(self.classes_group).addWidget(self.table)
        self.roi_group = QGroupBox()
        roi = QFormLayout(self.roi_group)
        roi.addRow(self.labels["roi_kind"], self.roi_kind)
        rect_row = QHBoxLayout()
        for spin in self.roi_rect:
            rect_row.addWidget(spin)
        roi.addRow(self.labels["roi_rect"], rect_row)
        roi.addRow(self.labels["roi_points"], self.roi_points)
        self.camera_group = QGroupBox()
        camera = QFormLayout(self.camera_group)
        camera.addRow(self.labels["exposure"], self.exposure)
        camera.addRow(self.labels["gain"], self.gain)
        camera.addRow(self.labels["features"], self.features)
        buttons = QHBoxLayout()
        buttons.addWidget(self.message, 1)
        buttons.addWidget(self.apply_button)
        buttons.addWidget(self.close_button)
        box = QVBoxLayout(self)
        box.addLayout(top)
        box.addWidget(self.defaults_group)
        box.addWidget(self.classes_group, 1)
        box.addWidget(self.roi_group)
        box.addWidget(self.camera_group)
        box.addWidget(self.preview)
        box.addLayout(buttons)
        self.retranslate()

    # ---------------------------------------------------------------- content
    def load(self, recipes: dict[str, RecipeConfig], class_names: dict[str, tuple[str, ...]],
             releases: list[Path], current: str) -> None:
        self.recipes, self.class_names = dict(recipes), dict(class_names)
        self._releases = [str(p) for p in releases]
        self.recipe_box.blockSignals(True)
        self.recipe_box.clear()
        self.recipe_box.addItems(list(recipes))
        self.recipe_box.blockSignals(False)
        self.recipe_box.setCurrentText(current)
        self._show_recipe(self.recipe_box.currentText())

    def _show_recipe(self, name: str) -> None:
        r = self.recipes.get(name)
        if r is None:
            return
        self.description.setText(r.description)
        self.model_box.clear()
        self.model_box.addItems(list(dict.fromkeys([r.model, *self._releases])))
        self.model_box.setCurrentText(r.model)
        self.min_conf.setValue(r.min_conf)
        self.min_area.setValue(r.min_area)
        self.max_count.setValue(r.max_count)
        names = self.class_names.get(r.model, tuple(r.classes))
        self.table.setRowCount(len(names))
        for i, cls in enumerate(names):
            rule = r.classes.get(cls)
            item = QTableWidgetItem(cls)
            item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            item.setData(Qt.ItemDataRole.DecorationRole, class_colour(cls, names))  # as on the images
            self.table.setItem(i, 0, item)
            for j, key in enumerate(("min_conf", "min_area", "max_count"), start=1):
                value = getattr(rule, key) if rule else None
                self.table.setItem(i, j, QTableWidgetItem("" if value is None else f"{value:g}"))
            check = QTableWidgetItem()
            check.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
            check.setCheckState(Qt.CheckState.Checked if rule and rule.ignore else Qt.CheckState.Unchecked)
            self.table.setItem(i, 4, check)
        kind = r.roi.kind if r.roi is not None else "none"
        self.roi_kind.setCurrentIndex([k for k, _ in ROI_KINDS].index(kind))
        if isinstance(r.roi, RectROI):
            for spin, v in zip(self.roi_rect, r.roi.xyxy, strict=True):
                spin.setValue(v)
        self.roi_points.setText("; ".join(f"{x:g},{y:g}" for x, y in r.roi.points)
                                if isinstance(r.roi, PolygonROI) else "")
        self._roi_kind_changed()
        cam = r.camera
        self.exposure.setText("" if cam is None or cam.exposure_us is None else f"{cam.exposure_us:g}")
        self.gain.setText("" if cam is None or cam.gain is None else f"{cam.gain:g}")
        written = "; ".join(f"{k}={_text(v)}" for k, v in cam.features.items()) if cam is not None else ""
        self.features.setText(written)
        self.message.clear()

    def build(self) -> RecipeConfig:
        """The recipe as edited; raises ValueError (with the problem in words) when it is not valid."""
        name = self.recipe_box.currentText()
        data: dict[str, Any] = {
            "model": self.recipes[name].model,
            "description": self.description.text(),
            "min_conf": round(self.min_conf.value(), 4),
            "min_area": self.min_area.value(),
            "max_count": self.max_count.value(),
            "classes": {},
            "display_names": self.recipes[name].display_names,  # not edited here: kept as they were
            "camera": self._camera(),
        }
        for i in range(self.table.rowCount()):
            cls = self.table.item(i, 0).text()
            rule: dict[str, Any] = {}
            for j, key in enumerate(("min_conf", "min_area", "max_count"), start=1):
                text = (self.table.item(i, j).text() if self.table.item(i, j) else "").strip()
                if text:
                    try:
                        rule[key] = int(text) if key == "max_count" else float(text)
                    except ValueError:
                        raise ValueError(f"{cls}: {key} '{text}' is not a number") from None
            if self.table.item(i, 4).checkState() == Qt.CheckState.Checked:
                rule["ignore"] = True
            if rule:
                data["classes"][cls] = rule
        kind = ROI_KINDS[self.roi_kind.currentIndex()][0]
        if kind == "rect":
            data["roi"] = {"kind": "rect", "xyxy": [s.value() for s in self.roi_rect]}
        elif kind == "polygon":
            try:
                text = self.roi_points.text()
                points = [[float(v) for v in pt.split(",")] for pt in text.split(";") if pt.strip()]
            except ValueError:
                raise ValueError("polygon: write points as x,y; x,y; x,y") from None
            data["roi"] = {"kind": "polygon", "points": points}
        try:
            return RecipeConfig.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise ValueError(problems) from None

    def _camera(self) -> dict[str, Any] | None:
        """The camera settings as written in the form (None: all empty, the camera keeps [source]'s)."""
        out: dict[str, Any] = {}
        for key, field in (("exposure_us", self.exposure), ("gain", self.gain)):
            text = field.text().strip()
            if text:
                try:
                    out[key] = float(text)
                except ValueError:
                    raise ValueError(f"camera.{key}: '{text}' is not a number") from None
        features: dict[str, Any] = {}
        for item in self.features.text().split(";"):
            if not item.strip():
                continue
            name, sep, value = item.partition("=")
            if not sep or not name.strip():
                raise ValueError(f"camera.features: write Name=value; Name=value (got '{item.strip()}')")
            features[name.strip()] = _value(value.strip())
        if features:
            out["features"] = features
        return out or None

    def set_preview_source(self, source: PreviewSource | None) -> None:
        """Where the what-if preview reads the station's history (None: no preview)."""
        self.preview.set_source(source)
        self._edited()

    def _edited(self, *_: object) -> None:
        name = self.recipe_box.currentText()
        if name not in self.recipes or self.table.rowCount() == 0:
            return
        try:
            recipe = self.build()
        except (ValueError, AttributeError) as exc:  # AttributeError: the table is being filled
            if isinstance(exc, ValueError):
                self.preview.invalid(str(exc))
            return
        self.preview.request(name, recipe)

    def hideEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        self.preview.invalid("")  # a closed editor computes nothing
        super().hideEvent(event)

    def _apply(self) -> None:
        try:
            recipe = self.build()
        except ValueError as exc:
            self.show_message(False, str(exc))
            return
        self.apply_requested.emit(self.recipe_box.currentText(), recipe)

    def _switch(self) -> None:
        self.show_message(True, translate("RecipeEditor", "Loading the model release…"))
        self.switch_model_requested.emit(self.recipe_box.currentText(), self.model_box.currentText().strip())

    def show_message(self, ok: bool, text: str) -> None:
        self.message.setStyleSheet("color: #1B5E20;" if ok else "color: #B71C1C; font-weight: bold;")
        self.message.setText(text)

    def _roi_kind_changed(self) -> None:
        kind = ROI_KINDS[max(0, self.roi_kind.currentIndex())][0]
        for spin in self.roi_rect:
            spin.setEnabled(kind == "rect")
        self.roi_points.setEnabled(kind == "polygon")

    def retranslate(self) -> None:
        self.setWindowTitle(translate("RecipeEditor", "Recipes (engineer)"))
        texts = {
            "recipe": translate("RecipeEditor", "Recipe"),
            "description": translate("RecipeEditor", "Description"),
            "model": translate("RecipeEditor", "Model release"),
            "min_conf": translate("RecipeEditor", "Min confidence"),
            "min_area": translate("RecipeEditor", "Min area px²"),
            "max_count": translate("RecipeEditor", "Max count"),
            "roi_kind": translate("RecipeEditor", "Region"),
            "roi_rect": translate("RecipeEditor", "x1, y1, x2, y2"),
            "roi_points": translate("RecipeEditor", "Points x,y; …"),
        }
        for key, text in texts.items():
            self.labels[key].setText(text)
        self.defaults_group.setTitle(translate("RecipeEditor", "Defaults for every class"))
        self.classes_group.setTitle(translate("RecipeEditor", "Per class (empty = default)"))
        self.roi_group.setTitle(translate("RecipeEditor", "Region of interest (box centres inside count)"))
        self.camera_group.setTitle(
            translate("RecipeEditor", "Camera settings (GenICam cameras; empty = unchanged)")
        )
        self.labels["exposure"].setText(translate("RecipeEditor", "Exposure µs"))
        self.labels["gain"].setText(translate("RecipeEditor", "Gain"))
        self.labels["features"].setText(translate("RecipeEditor", "Other features (Name=value; …)"))
        self.table.setHorizontalHeaderLabels([translate("RecipeEditor", c) for c in CLASS_COLUMNS])
        index = self.roi_kind.currentIndex()
        self.roi_kind.blockSignals(True)
        self.roi_kind.clear()
        self.roi_kind.addItems([translate("RecipeEditor", t) for _, t in ROI_KINDS])
        self.roi_kind.setCurrentIndex(max(0, index))
        self.roi_kind.blockSignals(False)
        self.switch_button.setText(translate("RecipeEditor", "Switch model"))
        self.apply_button.setText(translate("RecipeEditor", "Apply"))
        self.close_button.setText(translate("RecipeEditor", "Close"))


def _spin(lo: float, hi: float, step: float, decimals: int) -> QDoubleSpinBox:
    s = QDoubleSpinBox()
    s.setRange(lo, hi)
    s.setSingleStep(step)
    s.setDecimals(decimals)
    return s


def _text(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else f"{value}"


def _value(text: str) -> bool | int | float | str:
    """A feature value as typed: true/false, an integer, a number, else the text (an enumeration entry)."""
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text
