"""Frame sources: the synthetic part generator, a folder of images, and OpenCV cameras/streams."""

from __future__ import annotations

from inspect_app.config import FolderSourceConfig, OpenCVSourceConfig, SourceConfig, SyntheticSourceConfig
from inspect_app.protocols import FrameSource


def make_source(config: SourceConfig) -> FrameSource:
    """Build the source a config describes (not yet opened)."""
    if isinstance(config, SyntheticSourceConfig):
        from inspect_app.sources.synthetic import SyntheticSource

        return SyntheticSource(config)
    if isinstance(config, FolderSourceConfig):
        from inspect_app.sources.folder import FolderSource

        return FolderSource(config)
    if isinstance(config, OpenCVSourceConfig):
        from inspect_app.sources.opencv_source import OpenCVSource

        return OpenCVSource(config)
    raise TypeError(f"unknown source config {type(config).__name__}")
