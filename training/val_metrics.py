"""Per-epoch validation metrics computed by ultralytics' own ``DetectionValidator``, fed by Lightning.

The validator's pieces run exactly as in ``BaseValidator.__call__`` during training: ``preprocess`` ->
model -> ``loss`` -> ``postprocess`` (NMS at conf 0.001, iou 0.7) -> ``update_metrics`` (IoU matching) ->
``get_stats`` (``DetMetrics`` / ``ap_per_class``). Only the loop belongs to Lightning, so mAP50, mAP50-95,
precision and recall agree with ``YOLO(ckpt).val()`` on the same weights, data and batch size.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from training._offline import require_offline

require_offline(__name__)

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
from ultralytics.models.yolo.detect import DetectionValidator  # noqa: E402

# how ours are named in logs, CSV and manifests -> ultralytics' results_dict keys
METRIC_KEYS = {
    "precision": "metrics/precision(B)",
    "recall": "metrics/recall(B)",
    "mAP50": "metrics/mAP50(B)",
    "mAP50-95": "metrics/mAP50-95(B)",
    "fitness": "fitness",
}


class EpochValidator:
    def __init__(self, hyp: Any, data: dict[str, Any], save_dir: Path) -> None:
        args = {k: v for k, v in vars(hyp).items()}
        # plots and JSON are evaluate's job; per epoch they would only cost time
        args.update(mode="val", plots=False, save_json=False, save_txt=False, verbose=False)
        self.validator = DetectionValidator(save_dir=Path(save_dir), args=args)
        self.validator.data = data
        self.validator.training = True

    def start(self, model: torch.nn.Module, device: torch.device) -> None:
        v = self.validator
        v.device = device
        v.args.quantize = None  # fp32 inputs; ultralytics uses fp16 only under CUDA AMP
        if hasattr(model, "end2end"):
            model.end2end = v.args.nms is False
        v.init_metrics(model)
        v.seen = 0

    def step(self, model: torch.nn.Module, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """One batch: metrics state is updated, the loss components are returned."""
        v = self.validator
        batch = v.preprocess(batch)
        preds = model(batch["img"])
        loss_items = model.loss(batch, preds)[1]
        v.update_metrics(v.postprocess(preds), batch)
        return loss_items

    def compute(self) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
        """(overall metrics, per-class metrics); every rank gets the numbers of the whole val set."""
        v = self.validator
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            gathered: list[Any] = [None] * dist.get_world_size()
            dist.all_gather_object(gathered, v.metrics.stats)
            v.metrics.stats = {k: [x for part in gathered for x in part[k]] for k in v.metrics.stats}
        stats = v.get_stats()  # DetMetrics.process -> ap_per_class; clears the accumulated stats
        overall = {ours: float(stats[theirs]) for ours, theirs in METRIC_KEYS.items()}
        per_class: dict[str, dict[str, float]] = {}
        box = v.metrics.box
        for i, c in enumerate(box.ap_class_index):
            p, r, ap50, ap = box.class_result(i)
            per_class[v.names[int(c)]] = {
                "precision": float(p),
                "recall": float(r),
                "mAP50": float(ap50),
                "mAP50-95": float(ap),
                "instances": int(v.metrics.nt_per_class[int(c)]),
            }
        return overall, per_class
