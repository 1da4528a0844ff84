"""Frame sources: the synthetic part generator, a folder of images, OpenCV cameras/streams, and GenICam
(GigE Vision / USB3 Vision) cameras through Aravis."""

from __future__ import annotations

from inspect_app.config import (
    FolderSourceConfig,
    GenicamSourceConfig,
    OpenCVSourceConfig,
    SourceConfig,
    SyntheticSourceConfig,
)
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
        if is_video_file(config.uri):
            from inspect_app.sources.video_file import VideoFileSource

            return VideoFileSource(config)
        from inspect_app.sources.opencv_source import OpenCVSource

        return OpenCVSource(config)
    if isinstance(config, GenicamSourceConfig):
        from inspect_app.sources.genicam import GenicamSource
        from inspect_app.sources.genicam_aravis import why_unavailable

        missing = why_unavailable()
        if missing:  # refused at start, in one line; every other source kind runs without Aravis
            from inspect_app.station import StartupError

            raise StartupError(f"source.kind = genicam: {missing}")
        return GenicamSource(config)
    raise TypeError(f"unknown source config {type(config).__name__}")


def is_video_file(uri: int | str) -> bool:
    """A path (no scheme, not a device index): frames are replayed in order rather than grabbed live."""
    return isinstance(uri, str) and "://" not in uri and not uri.startswith("/dev/")


def declared_resolution(config: SourceConfig) -> tuple[int, int] | None:
    """(width, height) the source will deliver, when that is known before it is opened: the synthetic
    generator's size, or the header of a folder's first image. Cameras tell only with their first frame."""
    if isinstance(config, SyntheticSourceConfig):
        return config.width, config.height
    if isinstance(config, FolderSourceConfig):
        from inspect_app.protocols import CorruptFrame
        from inspect_app.sources.decode import read_header
        from inspect_app.sources.folder import list_images

        try:
            first = next(iter(list_images(config)), None)
            if first is None:
                return None
            with open(first, "rb") as f:
                head = f.read(1 << 16)
            header = read_header(head, str(first))
        except (OSError, CorruptFrame):
            return None
        return header.width, header.height
    return None
