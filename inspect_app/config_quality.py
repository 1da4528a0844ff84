"""The ``[shadow]`` and ``[promotion]`` sections of the station config: a candidate model run beside the live
one, and the gate a candidate must pass before it becomes live (docs/quality-engineer.md).

Kept apart from ``config.py`` (which includes them) so that the quality engineer's settings read as one unit.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    # the same base as config._Strict; defined here, not imported, because config.py imports this module
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


_Fraction = Annotated[float, Field(ge=0.0, le=1.0)]


class ShadowConfig(_Strict):
    """A candidate release judged on live parts beside the live model, never deciding anything."""

    enabled: bool = False
    release: str | None = Field(None, description="the candidate's release directory (models/NAME/VERSION)")
    backend: Literal["onnxruntime", "openvino"] = Field(
        "onnxruntime", description="the shadow's runtime: onnxruntime with one thread computes in the "
        "shadow's own (lowered-priority) thread; OpenVINO's worker threads are shared with the live model's",
    )  # fmt: skip
    threads: int = Field(1, ge=1, le=64, description="inference threads of the shadow model")
    nice: int = Field(10, ge=0, le=19, description="added to the shadow thread's OS niceness (Linux)")
    skip_when_busy: bool = Field(
        True, description="skip a part (counted) while a live part waits for the detector",
    )  # fmt: skip

    @model_validator(mode="after")
    def _release_when_enabled(self) -> ShadowConfig:
        if self.enabled and not self.release:
            raise ValueError("release: a shadow model needs a release directory when enabled = true")
        return self


class PromotionConfig(_Strict):
    """What a candidate must show before ``models promote`` or the window's model switch makes it live."""

    false_reject_pass_min: _Fraction = Field(
        0.8, description="share of the reviewed false rejects the candidate must pass",
    )  # fmt: skip
    agreement_min: _Fraction = Field(
        0.9, description="share of the replayed (or shadowed) parts on which the candidate's verdict must "
        "agree with the live one",
    )  # fmt: skip
    min_parts: int = Field(0, ge=0, description="fewer replayed or shadowed parts than this: the gate fails")
    metric_tolerance: float = Field(
        0.02, ge=0, le=1, description="test metrics may be at most this much below the live model's",
    )  # fmt: skip
    metrics: tuple[str, ...] = ("mAP50", "mAP50-95")
