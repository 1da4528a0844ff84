"""The ``genicam`` source kind and the per-recipe camera settings (GigE Vision / USB3 Vision through Aravis).

Kept apart from config.py as ``config_opcua.py`` is, because config.py imports it. The pixel formats are
checked against the converter's table when a config is validated (imported then, not at import time: the
sources package imports config.py). See docs/cameras.md.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator


class _Strict(BaseModel):
    # the same base as config._Strict; defined here, not imported, because config.py imports this module
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


# GenICam feature names are C identifiers (SFNC: ExposureTime, GevSCPD, BalanceWhiteAuto, ...)
_FEATURE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
FeatureValue = bool | int | float | str


def _check_features(features: dict[str, FeatureValue]) -> dict[str, FeatureValue]:
    for name in features:
        if not _FEATURE_NAME.match(name):
            raise ValueError(f"{name!r} is not a GenICam feature name (letters, digits and _ only)")
    return features


Features = Annotated[dict[str, FeatureValue], AfterValidator(_check_features)]


class CameraSettings(_Strict):
    """Camera settings of one recipe, applied at changeover before the first part of that recipe is taken
    (``[recipes.NAME.camera]``). Only what may change while the camera streams: the pixel format, ROI and
    binning change the payload size and stay in ``[source]``."""

    exposure_us: float | None = Field(None, gt=0, le=60_000_000, description="ExposureTime in microseconds")
    gain: float | None = Field(None, ge=0, le=1000, description="Gain (dB on SFNC cameras, else GainRaw)")
    features: Features = Field(
        default_factory=dict,
        description="any other GenICam feature by name, set in the order written (selectors first)",
    )

    def as_features(self) -> dict[str, FeatureValue]:
        """What is set on the camera, in order; exposure and gain by Aravis's portable calls."""
        out: dict[str, FeatureValue] = {}
        if self.exposure_us is not None:
            out["ExposureTime"] = self.exposure_us
        if self.gain is not None:
            out["Gain"] = self.gain
        out.update(self.features)
        return out


MaxFrameAge = Annotated[
    float | None,
    Field(
        None,
        gt=0,
        le=600_000,
        description="a frame taken longer than this before its trigger is not that part's picture; unset: "
        "3 frame periods (at least 150 ms) in free run, 1000 ms for hardware triggers, never for software",
    ),
]


class GenicamSourceConfig(_Strict):
    kind: Literal["genicam"] = "genicam"
    camera: str = Field(
        min_length=1,
        description="serial number, user id (DeviceUserID), IP address or Aravis device id; "
        "`inspect-app cameras list` shows them",
    )
    interfaces: list[Literal["GigEVision", "USB3Vision", "Fake"]] = Field(
        default_factory=lambda: ["GigEVision", "USB3Vision"],
        min_length=1,
        description="Aravis interfaces searched; Fake is Aravis's built-in test camera",
    )
    trigger: Literal["free_run", "software", "hardware"] = Field(
        "free_run",
        description="free_run: the newest frame at each part; software: TriggerSoftware at each part; "
        "hardware: the camera is triggered on trigger_source and each frame is matched to its part",
    )
    trigger_source: str = Field("Line1", min_length=1, description="hardware trigger input (TriggerSource)")
    trigger_activation: Literal["RisingEdge", "FallingEdge", "AnyEdge", "LevelHigh", "LevelLow"] | None = None
    pixel_format: str | None = Field(None, description="e.g. Mono8, BayerRG8, RGB8, Mono12; unset: as set")
    exposure_us: float | None = Field(None, gt=0, le=60_000_000)
    gain: float | None = Field(None, ge=0, le=1000)
    frame_rate: float | None = Field(
        None, gt=0, le=100_000, description="AcquisitionFrameRate (with a trigger: the highest rate)"
    )
    roi: tuple[int, int, int, int] | None = Field(None, description="[x, y, width, height] on the sensor")
    binning: int | None = Field(None, ge=1, le=16)
    features: Features = Field(
        default_factory=dict, description="other GenICam features by name, set in order, after the above"
    )
    buffers: int = Field(4, ge=2, le=256, description="stream buffers handed to the driver")
    packet_size: int | None = Field(None, ge=576, le=16_384, description="GevSCPSPacketSize; unset: auto")
    packet_resend: bool = Field(True, description="GigE: ask the camera to resend lost packets")
    open_timeout_s: float = Field(5.0, gt=0, le=120)
    read_timeout_s: float = Field(2.0, gt=0, le=120)
    frame_timeout_ms: float | None = Field(
        None, gt=0, le=120_000,
        description="free run: no frame for this long = camera lost; unset: 3 frame periods, at least 500 ms",
    )  # fmt: skip
    stale_after: int = Field(5, ge=1, le=10_000, description="incomplete frames in a row that mean DAMAGED")
    stale_clear_after: int = Field(10, ge=1, le=10_000, description="complete frames in a row that end it")
    reconnect_min_s: float = Field(0.25, gt=0, le=300)
    reconnect_max_s: float = Field(1.0, gt=0, le=3600, description="backoff cap; 1 s: back within 2 s")
    heartbeat_s: float = Field(
        1.0, gt=0, le=60, description="how often the link is checked and the temperature read"
    )
    temperature_feature: str = Field("DeviceTemperature", min_length=1)
    temperature_max_c: float | None = Field(None, gt=-50, le=200, description="a warning above this")
    max_frame_age_ms: MaxFrameAge = None

    @field_validator("pixel_format")
    @classmethod
    def _known_format(cls, v: str | None) -> str | None:
        from inspect_app.sources.genicam_pixels import FORMATS_BY_NAME

        if v is not None and v not in FORMATS_BY_NAME:
            raise ValueError(f"{v!r} is not converted by the station; one of {', '.join(FORMATS_BY_NAME)}")
        return v

    @field_validator("roi")
    @classmethod
    def _roi_size(cls, v: tuple[int, int, int, int] | None) -> tuple[int, int, int, int] | None:
        if v is not None and (v[0] < 0 or v[1] < 0 or v[2] < 1 or v[3] < 1):
            raise ValueError("must be [x, y, width, height] with x, y >= 0 and width, height >= 1")
        return v

    @model_validator(mode="after")
    def _backoff_order(self) -> GenicamSourceConfig:
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must be >= reconnect_min_s")
        return self

    def base_settings(self) -> CameraSettings:
        return CameraSettings(exposure_us=self.exposure_us, gain=self.gain, features=dict(self.features))
