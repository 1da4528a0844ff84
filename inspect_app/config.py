"""The one configuration schema of the station (pydantic v2, ``extra="forbid"``).

A station is configured by one TOML file (see ``station.example.toml``). Every error names the key path,
e.g. ``recipes.pcb-a.classes.short.min_conf: must be between 0 and 1``, so a typo is found at start,
not at 3 a.m.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from inspect_app.config_genicam import CameraSettings, GenicamSourceConfig
from inspect_app.config_opcua import OpcUaConfig, resolve_opcua_paths
from inspect_app.config_quality import PromotionConfig, ShadowConfig


class ConfigError(Exception):
    """A config file that cannot be used; the message lists every problem with its key path."""


class _Strict(BaseModel):
    # inf and nan pass ``gt=0``: an infinite timeout is a station that can wait forever without an alarm
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


Fraction = Annotated[float, Field(ge=0.0, le=1.0)]


# ---------------------------------------------------------------- sources
MaxFrameAge = Annotated[
    float | None,
    Field(
        None,
        gt=0,
        le=600_000,
        description="a frame taken longer than this before its trigger is NOT_INSPECTED STALE_FRAME; "
        "unset: from the source's frame rate (sources that take the picture on demand: never stale)",
    ),
]


class SyntheticSourceConfig(_Strict):
    kind: Literal["synthetic"] = "synthetic"
    style: Literal["pcb", "surface"] = "pcb"
    width: int = Field(640, ge=64, le=8192)
    height: int = Field(640, ge=64, le=8192)
    seed: int = 0
    defect_rate: Fraction = 0.3
    zoom: float = Field(1.0, ge=0.25, le=8.0, description="magnification: 2 draws features twice as large")
    rate_hz: float = Field(0.0, ge=0.0, le=10_000, description="0 = as fast as the pipeline takes frames")
    max_frame_age_ms: MaxFrameAge = None


class FolderSourceConfig(_Strict):
    kind: Literal["folder"] = "folder"
    path: Path
    pattern: str = "*"
    loop: bool = False
    rate_hz: float = Field(0.0, ge=0.0, le=10_000)
    max_image_pixels: int = Field(
        50_000_000, ge=1, le=1_000_000_000, description="larger images (by their header) are refused unread"
    )
    max_frame_age_ms: MaxFrameAge = None


class OpenCVSourceConfig(_Strict):
    kind: Literal["opencv"] = "opencv"
    uri: int | str = Field(0, description="device index, video file, rtsp:// or http(s):// URL")
    open_timeout_s: float = Field(5.0, gt=0, le=120)
    read_timeout_s: float = Field(2.0, gt=0, le=120)
    frame_timeout_ms: float | None = Field(
        None,
        gt=0,
        le=120_000,
        description="no new frame for this long = camera lost; unset: 3 frame periods, at least 500 ms",
    )
    stale_after: int = Field(5, ge=1, description="identical/non-advancing frames in a row that mean stale")
    stale_clear_after: int = Field(
        10, ge=1, le=10_000, description="new, different frames in a row that end a frozen-picture Error"
    )
    reconnect_min_s: float = Field(0.5, gt=0, le=300)
    reconnect_max_s: float = Field(30.0, gt=0, le=3600)
    loop: bool = Field(False, description="restart a video file at its end")
    width: int | None = Field(None, ge=1, le=65_535)
    height: int | None = Field(None, ge=1, le=65_535)
    fps: float | None = Field(None, gt=0, le=10_000)
    max_frame_age_ms: MaxFrameAge = None


SourceConfig = Annotated[
    SyntheticSourceConfig | FolderSourceConfig | OpenCVSourceConfig | GenicamSourceConfig,
    Field(discriminator="kind"),
]


# ---------------------------------------------------------------- trigger, detector
class TriggerConfig(_Strict):
    mode: Literal["free_run", "software", "external"] = "free_run"
    rate_hz: float = Field(5.0, gt=0, le=1000, description="free-run part rate")
    queue_size: int = Field(16, ge=1, le=10_000, description="triggers waiting for a frame")


class DetectorConfig(_Strict):
    backend: Literal["onnxruntime", "openvino", "ultralytics"] = "openvino"
    threads: int | None = Field(
        None, ge=1, le=256,
        description="inference threads; unset: the thread plan for the cores the station may use (all of "
        "up to 8, one fewer from 9 on, at most 16; inspect_app/detector/threads.py)",
    )  # fmt: skip
    iou: Fraction = 0.7
    file: str | None = Field(None, description="file in the model directory; default by backend")
    precision: Literal["auto", "f32", "bf16", "int8"] = Field(
        "auto",
        description="auto: at start, the fastest on this CPU of f32, the release's int8 model (if it passed "
        "its accuracy gate) and bf16 (only with allow_bf16); bf16 and int8 need the openvino backend",
    )
    allow_bf16: bool = Field(
        False,
        description="let auto choose bf16 (confidences move by up to ~0.01): the recipe owner's consent",
    )
    streams: int | None = Field(
        None, ge=1, le=64,
        description="OpenVINO streams: > 1 runs that many parts' inferences side by side on a share of the "
        "threads each, more parts per second and a longer wait for each; 1 = latency; unset: the thread "
        "plan's throughput streams (one per core, one core left from 3 on) for a free-run trigger with "
        "openvino, else 1",
    )  # fmt: skip

    cache: bool = Field(
        True,
        description="keep what auto chose and OpenVINO's compiled models under <state_dir>/cache, so later "
        "starts skip the timing and the compile (timed again whenever the release, CPU, OpenVINO, threads "
        "or streams change)",
    )

    @field_validator("streams")
    @classmethod
    def _streams_runtime(cls, v: int | None, info: ValidationInfo) -> int | None:
        backend = info.data.get("backend")
        if v is not None and v > 1 and backend != "openvino":
            raise ValueError(f"streams > 1 needs backend = \"openvino\" (backend is \"{backend}\")")
        return v

    @field_validator("precision")
    @classmethod
    def _runtime_has_it(cls, v: str, info: ValidationInfo) -> str:
        backend = info.data.get("backend")
        if v in ("bf16", "int8") and backend != "openvino":
            raise ValueError(f"{v} needs backend = \"openvino\" (backend is \"{backend}\")")
        if v == "int8" and info.data.get("file") is not None:
            raise ValueError("int8 runs the release's int8 model; remove detector.file")
        return v


# ---------------------------------------------------------------- recipes
class RectROI(_Strict):
    kind: Literal["rect"] = "rect"
    xyxy: tuple[float, float, float, float]

    @field_validator("xyxy")
    @classmethod
    def _ordered(cls, v: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        if v[2] <= v[0] or v[3] <= v[1]:
            raise ValueError("must be [x1, y1, x2, y2] with x2 > x1 and y2 > y1")
        return v


class PolygonROI(_Strict):
    kind: Literal["polygon"] = "polygon"
    points: list[tuple[float, float]] = Field(min_length=3)

    @field_validator("points")
    @classmethod
    def _has_area(cls, v: list[tuple[float, float]]) -> list[tuple[float, float]]:
        n = len(v)
        if abs(sum(v[i][0] * v[(i + 1) % n][1] - v[(i + 1) % n][0] * v[i][1] for i in range(n))) < 2.0:
            raise ValueError("the polygon encloses no area (points on one line?)")
        return v


ROI = Annotated[RectROI | PolygonROI, Field(discriminator="kind")]


class ClassRule(_Strict):
    min_conf: Fraction | None = None
    min_area: float | None = Field(None, ge=0)
    max_count: int | None = Field(None, ge=0)
    ignore: bool = False


Language = Literal["en", "zh_CN"]  # the operator window's languages (ui/i18n)


class RecipeConfig(_Strict):
    model: str = Field(description="model release directory, e.g. models/synth-pcb/1.0.0")
    description: str = ""
    min_conf: Fraction = 0.25
    min_area: float = Field(0.0, ge=0, description="minimum box area in pixels^2")
    max_count: int = Field(0, ge=0, description="defects of one class allowed before FAIL")
    roi: ROI | None = None
    classes: dict[str, ClassRule] = Field(default_factory=dict)
    camera: CameraSettings | None = Field(
        None, description="genicam source: exposure, gain, other features of this recipe (docs/cameras.md)"
    )
    display_names: dict[Language, dict[str, str]] = Field(
        default_factory=dict,
        description='class names as the window shows them, per language, e.g. {zh_CN = {scratch = "划痕"}}; '
        "a class not listed is shown by its model name; data, logs and the PLC keep the model's names",
    )

    @field_validator("display_names")
    @classmethod
    def _display_names(cls, v: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for lang, names in v.items():
            for name, shown in names.items():
                if not shown.strip():
                    raise ValueError(f"{lang}.{name}: a display name cannot be empty")
            twice = {s for s in names.values() if list(names.values()).count(s) > 1}
            if twice:  # two classes the operator could not tell apart
                raise ValueError(f"{lang}: {', '.join(sorted(twice))} is the display name of two classes")
        return v


# ---------------------------------------------------------------- store
class RetentionConfig(_Strict):
    min_free_mb: float = Field(500.0, ge=0, description="below this, delete oldest images")
    resume_free_mb: float = Field(1000.0, ge=0, description="delete until this much is free")
    stop_saving_free_mb: float = Field(100.0, ge=0, description="below this, stop saving images and alarm")
    max_images_mb: float | None = Field(None, gt=0, description="cap on the image folder's size")
    check_interval_s: float = Field(30.0, gt=0, le=3600)
    hysteresis_mb: float = Field(
        50.0, ge=1, le=100_000, description="an alarm clears only this far above the threshold that raised it"
    )

    @model_validator(mode="after")
    def _order(self) -> RetentionConfig:
        if self.resume_free_mb < self.min_free_mb:
            raise ValueError("resume_free_mb must be >= min_free_mb")
        return self


class StoreConfig(_Strict):
    db: str = "results.db"
    images_dir: str = "images"
    save_pass_every: int = Field(50, ge=0, description="keep 1 in N PASS frames; 0 = none")
    image_format: Literal["jpg", "png"] = "jpg"
    jpeg_quality: int = Field(92, ge=10, le=100)
    batch_size: int = Field(64, ge=1, le=10_000)
    commit_interval_ms: float = Field(20.0, ge=0)
    queue_size: int = Field(256, ge=1, le=100_000)
    reserve_mb: float = Field(
        32.0, ge=0, le=4096,
        description="space held back for the database; released when the volume fills so that the alarm "
        "and the rows of parts not inspected still commit (0 = no reserve)",
    )
    flush_timeout_s: float = Field(
        15.0, gt=0, le=600, description="at stop, how long to retry commits before queued results go to the "
        "journal that the next start imports",
    )
    retention: RetentionConfig = RetentionConfig()


class PipelineConfig(_Strict):
    detect_queue: int = Field(4, ge=1, le=1000)
    in_flight: int | None = Field(
        None, ge=1, le=4,
        description="parts whose inference may run at once in the detect stage (OpenVINO): the next waiting "
        "part starts while the previous one is post-processed and decided; 1 = one part at a time; unset: "
        "the thread plan's (every request the detector has: 2, or 2 per stream; 1 on a single core)",
    )  # fmt: skip
    stall_timeout_s: float = Field(
        10.0, gt=0, le=600, description="a stage busy longer than this puts Error"
    )
    model_load_timeout_s: float = Field(60.0, gt=0, le=3600)


class UiConfig(_Strict):
    """The operator window (``ui``). Engineer mode stays locked until a password hash is set; make one
    with ``inspect-app ui hash-password``."""

    engineer_password_hash: str | None = Field(
        None, description="output of `inspect-app ui hash-password`; unset = no engineer mode"
    )
    language: Language = "en"
    display_fps: float = Field(30.0, gt=0, le=30, description="live view repaints per second at most")
    gallery_size: int = Field(12, ge=1, le=200, description="reject thumbnails shown")
    nice: int = Field(
        10, ge=0, le=19, description="how many nice steps below the station the window runs (Linux); 0 = same"
    )

    @field_validator("engineer_password_hash")
    @classmethod
    def _hash_format(cls, v: str | None) -> str | None:
        if v is not None and (not v.startswith("scrypt$") or v.count("$") != 5):
            raise ValueError("must be the output of `inspect-app ui hash-password` (scrypt$N$r$p$salt$hash)")
        return v


class StationInfo(_Strict):
    name: str = "station-1"
    line: str = ""


class StationConfig(_Strict):
    station: StationInfo = StationInfo()
    state_dir: Path = Path("var")
    source: SourceConfig = SyntheticSourceConfig()
    trigger: TriggerConfig = TriggerConfig()
    detector: DetectorConfig = DetectorConfig()
    pipeline: PipelineConfig = PipelineConfig()
    store: StoreConfig = StoreConfig()
    ui: UiConfig = UiConfig()
    recipes: dict[str, RecipeConfig] = Field(min_length=1)
    active_recipe: str
    opcua: OpcUaConfig = OpcUaConfig()
    shadow: ShadowConfig = ShadowConfig()
    promotion: PromotionConfig = PromotionConfig()
    # the TOML file this was read from (None: built in code, e.g. the demo); recipe edits are saved there
    _source_file: Path | None = PrivateAttr(default=None)

    @property
    def source_file(self) -> Path | None:
        return self._source_file

    @model_validator(mode="after")
    def _active_exists(self) -> StationConfig:
        if self.active_recipe not in self.recipes:
            raise ValueError(
                f"active_recipe: '{self.active_recipe}' is not one of the recipes ({', '.join(self.recipes)})"
            )
        return self


_FRACTION_KEYS = {"min_conf", "defect_rate", "iou"}
_UNION_KEYS = {"source", "roi"}


def _format_errors(err: ValidationError, origin: str) -> str:
    lines = [f"{origin}: {err.error_count()} problem(s)"]
    for e in err.errors():
        # drop the union tag pydantic puts in the path ("source.folder.path" -> "source.path")
        loc = [str(p) for i, p in enumerate(e["loc"]) if not (i and e["loc"][i - 1] in _UNION_KEYS)]
        path = ".".join(loc)
        ctx = e.get("ctx") or {}
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key (is it a typo?)"
        elif e["type"] in ("greater_than_equal", "less_than_equal") and loc and loc[-1] in _FRACTION_KEYS:
            # fractions (confidences, rates) read better as a range than as one bound
            msg = "must be between 0 and 1"
        elif e["type"] == "greater_than_equal":
            msg = f"must be >= {ctx.get('ge')}"
        elif e["type"] == "less_than_equal":
            msg = f"must be <= {ctx.get('le')}"
        elif e["type"] == "greater_than":
            msg = f"must be > {ctx.get('gt')}"
        lines.append(f"  {path}: {msg}" if path else f"  {msg}")
    return "\n".join(lines)


def parse_config(data: dict, origin: str = "config") -> StationConfig:
    try:
        return StationConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_errors(err, origin)) from None


def load_config(path: str | Path) -> StationConfig:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    cfg = resolve_paths(parse_config(data, str(path)), path.parent)
    cfg._source_file = path.resolve()
    return cfg


def resolve_paths(cfg: StationConfig, base: Path) -> StationConfig:
    """Relative paths in a config file are relative to that file, not to the working directory."""
    updates: dict = {}
    if not cfg.state_dir.is_absolute():
        updates["state_dir"] = (base / cfg.state_dir).resolve()
    if isinstance(cfg.source, FolderSourceConfig) and not cfg.source.path.is_absolute():
        updates["source"] = cfg.source.model_copy(update={"path": (base / cfg.source.path).resolve()})
    recipes = {}
    for name, r in cfg.recipes.items():
        p = Path(r.model)
        recipes[name] = r if p.is_absolute() else r.model_copy(update={"model": str((base / p).resolve())})
    updates["recipes"] = recipes
    updates["opcua"] = resolve_opcua_paths(cfg.opcua, base)
    if cfg.shadow.release and not Path(cfg.shadow.release).is_absolute():
        shadow_release = str((base / cfg.shadow.release).resolve())
        updates["shadow"] = cfg.shadow.model_copy(update={"release": shadow_release})
    return cfg.model_copy(update=updates)
