"""Synthetic parts with ground truth: the demo camera's images and the default model's training data."""

from inspect_app.synth.generator import CLASS_NAMES, PartGenerator, SyntheticPart, to_yolo_labels

__all__ = ["CLASS_NAMES", "PartGenerator", "SyntheticPart", "to_yolo_labels"]
