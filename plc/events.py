"""The content of a ResultReadyEvent (OPC 40100 names) for one committed inspection, and what a client gave
with StartSingleJob / StartContinuous to be echoed in it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from asyncua import ua

from inspect_app.types import CommittedInspection, Verdict
from plc.defects import counted_defects, defect_classes

RESULT_STATE_COMPLETED, RESULT_STATE_ABORTED, RESULT_STATE_FAILED = 1, 3, 4  # OPC 40100 ResultStateDataType


@dataclass(frozen=True, slots=True)
class JobMeta:
    """What a client gave with StartSingleJob / StartContinuous, echoed in the ResultReadyEvent."""

    job_id: str
    meas_id: str = ""
    product_id: str = ""
    continuous: bool = False
    part_prefix: str = ""  # continuous runs: part ids are <prefix>-000001, ...


def fill_result_event(ev: Any, committed: CommittedInspection, meta: JobMeta | None, job_id: str) -> None:
    """Set every field of the event object (asyncua copies the fields when the event is triggered)."""
    insp = committed.inspection
    t = insp.timings_ms
    acquire = float(t.get("acquire", 0.0))
    total = float(t.get("total", acquire))
    start = datetime.fromtimestamp(insp.captured_at - acquire / 1000, UTC)
    state = RESULT_STATE_COMPLETED
    if insp.verdict == Verdict.NOT_INSPECTED:
        code = insp.decision.error_code or ""
        state = RESULT_STATE_ABORTED if code in ("SHUTDOWN", "ABORTED") else RESULT_STATE_FAILED
    classes = defect_classes(insp)
    n_defects = len(counted_defects(insp))
    ev.ResultId = str(committed.inspection_id)
    ev.JobId = job_id
    ev.PartId, ev.MeasId = insp.part_id, meta.meas_id if meta else ""
    ev.ProductId = meta.product_id if meta else ""
    ev.ExternalRecipeId = ev.InternalRecipeId = insp.recipe
    ev.ExternalConfigurationId, ev.InternalConfigurationId = "", insp.model_id or ""
    ev.ResultState, ev.IsPartial, ev.IsSimulated = state, False, False
    ev.CreationTime = datetime.now(UTC)
    ev.ProcessingTimes = ua.ProcessingTimesDataType(  # type: ignore[attr-defined]  # made by nodes.build
        StartTime=start,
        EndTime=ev.CreationTime,
        AcquisitionDuration=acquire,
        ProcessingDuration=total - acquire,
    )
    ev.ResultContent = [
        ua.Variant(insp.verdict.value),
        ua.Variant(n_defects, ua.VariantType.Int32),
        ua.Variant(classes, ua.VariantType.String),
    ]
    ev.Verdict, ev.DefectCount, ev.DefectClasses = insp.verdict.value, n_defects, classes
    ev.DetectionCount = len(insp.detections)
    ev.ErrorCode = insp.decision.error_code or ""
    ev.Severity = {Verdict.PASS: 100, Verdict.FAIL: 300}.get(insp.verdict, 700)
