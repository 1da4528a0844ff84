"""The station's only contact with Aravis: GigE Vision and USB3 Vision cameras through GenICam, via PyGObject.

Nothing here is imported at module load: a station without Aravis imports this module, learns why Aravis is
missing (``why_unavailable``) and refuses a ``genicam`` source at start with that sentence; every other
source kind is unaffected. Aravis calls release the GIL, so a camera that hangs blocks only the thread
calling it.

Aravis's device list is process-wide: enumeration and opening go through one lock.
"""

from __future__ import annotations

import ipaddress
import logging
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from inspect_app.config_genicam import FeatureValue, GenicamSourceConfig

log = logging.getLogger(__name__)

INSTALL_HINT = (
    "install it with: apt-get install gir1.2-aravis-0.8 libgirepository1.0-dev libcairo2-dev pkg-config gcc, "
    "then .venv/bin/pip install -e '.[genicam]' (docs/cameras.md)"
)
_LIST_LOCK = threading.RLock()
_INTERFACES = ("GigEVision", "USB3Vision", "Fake")


class AravisUnavailable(RuntimeError):
    """Aravis or PyGObject is not installed in this Python; the message says what to install."""


class CameraNotFound(RuntimeError):
    pass


class FeatureError(RuntimeError):
    """A GenICam feature the camera lacks, or a value it refuses; the message names the feature."""


def load_aravis() -> Any:
    try:
        import gi
    except ImportError:
        raise AravisUnavailable(
            f"PyGObject (gi) is not installed in this Python ({sys.executable}); {INSTALL_HINT}"
        ) from None
    try:
        gi.require_version("Aravis", "0.8")
        from gi.repository import Aravis
    except (ValueError, ImportError):
        raise AravisUnavailable(f"the Aravis 0.8 library (typelib) is missing; {INSTALL_HINT}") from None
    return Aravis


def glib_error() -> type[Exception]:
    """The one exception type Aravis raises (``GLib.Error``), for ``except glib_error() as exc``."""
    load_aravis()
    from gi.repository import GLib

    return GLib.Error


def why_unavailable() -> str | None:
    """None when a ``genicam`` source can be used here, else one sentence saying what to install."""
    try:
        load_aravis()
    except AravisUnavailable as exc:
        return str(exc)
    return None


def error_text(exc: BaseException) -> str:
    """A GLib error's message without its quark prefix (``arv-device-error-quark: ...``)."""
    text = getattr(exc, "message", None) or str(exc)
    return text.split(": ", 1)[1] if text.startswith("arv-") and ": " in text else text


@dataclass(frozen=True, slots=True)
class CameraInfo:
    device_id: str
    vendor: str
    model: str
    serial: str
    address: str  # IP for GigE Vision; the USB bus address or the id for the others
    protocol: str  # "GigEVision", "USB3Vision", "Fake"
    physical_id: str


def select_interfaces(aravis: Any, interfaces: Iterable[str]) -> None:
    wanted = set(interfaces)
    for name in _INTERFACES:
        (aravis.enable_interface if name in wanted else aravis.disable_interface)(name)


def enumerate_cameras(interfaces: Iterable[str]) -> list[CameraInfo]:
    """Every camera the interfaces reach now (GigE Vision discovery waits about a second for answers)."""
    aravis = load_aravis()
    with _LIST_LOCK:
        select_interfaces(aravis, interfaces)
        aravis.update_device_list()
        return [
            CameraInfo(
                device_id=aravis.get_device_id(i) or "",
                vendor=aravis.get_device_vendor(i) or "",
                model=aravis.get_device_model(i) or "",
                serial=aravis.get_device_serial_nbr(i) or "",
                address=aravis.get_device_address(i) or "",
                protocol=aravis.get_device_protocol(i) or "",
                physical_id=aravis.get_device_physical_id(i) or "",
            )
            for i in range(aravis.get_n_devices())
        ]


def find_camera(spec: str, interfaces: Iterable[str]) -> CameraInfo:
    """The camera named by serial number, device id, address or physical id; then by user id
    (DeviceUserID), which only the camera itself knows, so candidates are opened and asked. An IP address
    is asked directly, without a discovery broadcast."""
    interfaces = list(interfaces)
    if is_ip_address(spec) and "GigEVision" in interfaces:
        camera = open_camera(spec, interfaces)
        return CameraInfo(
            device_id=str(camera.get_device_id() or spec), vendor=str(camera.get_vendor_name() or ""),
            model=str(camera.get_model_name() or ""), serial=str(camera.get_device_serial_number() or ""),
            address=spec, protocol="GigEVision", physical_id="",
        )  # fmt: skip
    cameras = enumerate_cameras(interfaces)
    for cam in cameras:
        if spec in (cam.serial, cam.device_id, cam.address, cam.physical_id):
            return cam
    for cam in cameras:
        try:
            conn = open_camera(cam.device_id, interfaces)
        except FeatureError:
            continue
        if read_feature(conn, "DeviceUserID") == spec:
            return cam
    reachable = ", ".join(f"{c.model} serial {c.serial} ({c.address})" for c in cameras) or "none"
    raise CameraNotFound(f"no camera {spec!r} (serial, user id, address or id); reachable: {reachable}")


def is_ip_address(spec: str) -> bool:
    try:
        ipaddress.ip_address(spec)
    except ValueError:
        return False
    return True


def open_camera(device_id: str, interfaces: Iterable[str] | None = None) -> Any:
    """An ``Aravis.Camera``; FeatureError when it cannot be opened (gone, or held by another program).
    Aravis looks an IP address up by a discovery packet sent to that address alone (no broadcast)."""
    aravis = load_aravis()
    with _LIST_LOCK:
        if interfaces is not None:
            select_interfaces(aravis, interfaces)
        try:
            return aravis.Camera.new(device_id)
        except glib_error() as exc:
            raise FeatureError(f"cannot open {device_id}: {error_text(exc)}") from None


def read_feature(camera: Any, name: str) -> str | None:
    """A feature's current value as text; None when the camera has no such feature or cannot say."""
    node = camera.get_device().get_feature(name)
    if node is None:
        return None
    aravis = load_aravis()
    try:
        if isinstance(node, aravis.GcCommand):
            return None
        if isinstance(node, aravis.GcFloat):
            return f"{node.get_value():g}"
        return str(node.get_value_as_string())
    except glib_error():  # a feature not readable now (locked, not implemented) is just unknown
        return None


def set_feature(camera: Any, name: str, value: FeatureValue) -> tuple[str | None, str | None]:
    """Set one feature; returns (old, new) as the camera reports them (it may round or clamp)."""
    aravis = load_aravis()
    if name == "ExposureTime" and camera.get_device().get_feature(name) is None:
        name = "ExposureTimeAbs"  # GigE Vision cameras before SFNC 2 (Aravis's fake camera among them)
    if name == "Gain" and camera.get_device().get_feature(name) is None:
        name = "GainRaw"
    node = camera.get_device().get_feature(name)
    if node is None:
        raise FeatureError(f"{name}: the camera has no such feature")
    old = read_feature(camera, name)
    try:
        if isinstance(node, aravis.GcCommand):
            if value is not True:
                raise FeatureError(f"{name}: a command; give {name} = true to execute it")
            node.execute()
        elif isinstance(value, bool):
            camera.set_boolean(name, value)
        elif isinstance(node, aravis.GcEnumeration) or isinstance(value, str):
            camera.set_string(name, str(value))
        elif isinstance(node, aravis.GcFloat):
            camera.set_float(name, float(value))
        elif isinstance(node, aravis.GcInteger):
            if isinstance(value, float) and not value.is_integer():
                raise FeatureError(f"{name}: an integer feature, not {value}")
            camera.set_integer(name, int(value))
        else:
            raise FeatureError(f"{name}: a {type(node).__name__}, which the station does not set")
    except FeatureError:
        raise
    except glib_error() as exc:  # a value out of range, a locked feature, a lost link
        raise FeatureError(f"{name} = {value!r}: {error_text(exc)}") from None
    return old, read_feature(camera, name)


def configure(camera: Any, config: GenicamSourceConfig) -> None:
    """The ``[source]`` settings, in the order GenICam needs: format and geometry, then trigger, then the
    rest. Raises FeatureError naming the setting the camera refused."""
    aravis = load_aravis()
    steps: list[tuple[str, Any]] = []
    if config.pixel_format:
        steps.append((f"PixelFormat = {config.pixel_format}",
                      lambda: camera.set_pixel_format_from_string(config.pixel_format)))
    if config.binning:
        steps.append((f"binning = {config.binning}",
                      lambda: camera.set_binning(config.binning, config.binning)))
    if config.roi:
        steps.append((f"roi = {list(config.roi)}", lambda: camera.set_region(*config.roi)))
    steps.append(("AcquisitionMode = Continuous",
                  lambda: camera.set_acquisition_mode(aravis.AcquisitionMode.CONTINUOUS)))
    if config.trigger == "free_run":
        steps.append(("TriggerMode = Off", camera.clear_triggers))
    else:
        source = "Software" if config.trigger == "software" else config.trigger_source
        steps.append((f"TriggerSource = {source}", lambda: camera.set_trigger(source)))
        if config.trigger_activation:
            steps.append((f"TriggerActivation = {config.trigger_activation}",
                          lambda: camera.set_string("TriggerActivation", config.trigger_activation)))
    if config.frame_rate:  # after the trigger: with a trigger on, many cameras take it as the highest rate
        steps.append((f"frame_rate = {config.frame_rate:g}",
                      lambda: camera.set_frame_rate(config.frame_rate)))
    if camera.is_gv_device():
        if config.packet_size:
            steps.append((f"packet_size = {config.packet_size}",
                          lambda: camera.gv_set_packet_size(config.packet_size)))
        else:
            steps.append(("packet size (auto)", camera.gv_auto_packet_size))
    for what, step in steps:
        try:
            step()
        except glib_error() as exc:  # said with the setting the camera refused
            raise FeatureError(f"{what}: {error_text(exc)}") from None
    for name, value in config.base_settings().as_features().items():
        set_feature(camera, name, value)


def create_stream(camera: Any, config: GenicamSourceConfig) -> Any:
    aravis = load_aravis()
    try:
        stream = camera.create_stream(None, None)
        if camera.is_gv_device():
            resend = aravis.GvStreamPacketResend
            stream.set_property("packet-resend", resend.ALWAYS if config.packet_resend else resend.NEVER)
        payload = camera.get_payload()
        for _ in range(config.buffers):
            stream.push_buffer(aravis.Buffer.new_allocate(payload))
        camera.start_acquisition()
    except glib_error() as exc:  # another program holds the camera, or the link went
        raise FeatureError(f"streaming: {error_text(exc)}") from None
    return stream


def stream_counters(stream: Any) -> dict[str, int]:
    """The driver's own counters (GigE: resends, missing packets; all: completed, failures, underruns)."""
    out: dict[str, int] = {}
    for i in range(stream.get_n_infos()):
        name = stream.get_info_name(i)
        try:
            out[name] = int(stream.get_info_uint64(i))
        except (TypeError, ValueError):  # a double-valued info
            out[name] = int(stream.get_info_double(i))
    return out


def release(camera: Any, stream: Any, *, stop: bool, wait: bool) -> None:
    """Stop (``stop``) and drop a connection; off the caller's thread unless ``wait``.

    Dropping a GigE Vision connection sends the camera a goodbye (stream channel closed, control given
    back), which waits for its timeouts when the camera has gone. A lost connection is dropped with
    ``wait`` before the next one opens: a goodbye still pending when the camera comes back would reach the
    camera that the new connection streams from (Aravis's fake camera obeys it). It costs nothing: the
    camera is away meanwhile, and once it is back the goodbye is answered at once. A lost camera is not
    told to stop for the same reason."""
    held = [camera, stream]

    def work() -> None:
        if stop and held[0] is not None:
            try:
                held[0].stop_acquisition()
            except glib_error():  # the camera is gone; nothing to stop
                log.debug("stop_acquisition on a released camera failed", exc_info=True)
        held.clear()  # the last references: Aravis closes the stream, then the device

    if wait:
        work()
    else:
        threading.Thread(target=work, name="genicam-release", daemon=True).start()
