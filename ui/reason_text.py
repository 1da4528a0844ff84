"""Reasons in the operator's language.

The runtime stores each reason with its code and fields (class, box, confidence, count) and an English
message for logs and MES. The window writes its own text from the fields, translated; for errors the
detail comes from the camera, the disk or the model and stays as the runtime wrote it, after a translated
title. Rows written before a field existed fall back to the stored message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ui.i18n import QT_TRANSLATE_NOOP, translate

ERROR_TITLES = {
    "CAMERA_ERROR": QT_TRANSLATE_NOOP("Reasons", "Camera error"),
    "OPEN_TIMEOUT": QT_TRANSLATE_NOOP("Reasons", "Camera did not open in time"),
    "READ_TIMEOUT": QT_TRANSLATE_NOOP("Reasons", "No picture from the camera in time"),
    "IMAGE_CORRUPT": QT_TRANSLATE_NOOP("Reasons", "Image unreadable"),
    "DETECTOR_ERROR": QT_TRANSLATE_NOOP("Reasons", "Model error"),
    "STAGE_STALLED": QT_TRANSLATE_NOOP("Reasons", "Inspection stalled"),
    "OVERRUN": QT_TRANSLATE_NOOP("Reasons", "Line faster than the station: part skipped"),
    "MISSED_TRIGGER": QT_TRANSLATE_NOOP("Reasons", "Trigger missed"),
    "STORE_ERROR": QT_TRANSLATE_NOOP("Reasons", "Database error"),
    "STATION_ERROR": QT_TRANSLATE_NOOP("Reasons", "Station error"),
    # the codes of docs/reliability.md, as docs/operator.md explains them
    "INTERNAL_ERROR": QT_TRANSLATE_NOOP("Reasons", "Internal error"),
    "WORKER_DIED": QT_TRANSLATE_NOOP("Reasons", "A worker thread stopped: restart the station"),
    "DISK_FULL": QT_TRANSLATE_NOOP("Reasons", "Disk full"),
    "ROI_OUTSIDE_IMAGE": QT_TRANSLATE_NOOP("Reasons", "Region of interest outside the image"),
    "STALE_FRAME": QT_TRANSLATE_NOOP("Reasons", "Picture too old for this trigger"),
    "IMAGE_TOO_LARGE": QT_TRANSLATE_NOOP("Reasons", "Image too large"),
}


def error_title(code: str | None) -> str:
    """The translated name of a NOT_INSPECTED code (the code itself when it is not known)."""
    title = ERROR_TITLES.get(code or "")
    return translate("Reasons", title) if title else (code or "")


def reason_text(r: Mapping[str, Any], shown_as: Mapping[str, str] | None = None) -> str:
    """One stored reason as the operator reads it; ``shown_as`` maps a class to its display name."""
    code, cls, box, conf = r.get("code"), r.get("class_name"), r.get("box"), r.get("confidence")
    cls = (shown_as or {}).get(cls, cls) if cls else cls
    if code in ("DEFECT", "COUNT_EXCEEDED") and cls and box and conf is not None:
        if code == "COUNT_EXCEEDED" and r.get("count") is None:
            return str(r.get("message", ""))  # written before counts were stored
        x1, y1, x2, y2 = box
        text = translate("Reasons", "{0} at ({1:.0f},{2:.0f})-({3:.0f},{4:.0f}), confidence {5:.2f}").format(
            cls, x1, y1, x2, y2, conf
        )
        if code == "COUNT_EXCEEDED":
            text += translate("Reasons", "; {0} found, {1} allowed").format(r["count"], r["limit"])
        return text
    if code in ERROR_TITLES:
        return f"{error_title(code)}: {r.get('message', '')}"
    return str(r.get("message", ""))
