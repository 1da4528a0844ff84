"""The GenICam source against Aravis's in-process fake camera (``Fake_1``): enumerate, stream, software and
hardware triggers, pixel formats, per-recipe settings read back from the camera, every frame id accounted."""

from __future__ import annotations

import itertools

import pytest

from inspect_app.config_genicam import CameraSettings
from inspect_app.protocols import CorruptFrame, SourceError
from inspect_app.sources.camera_state import CameraState
from inspect_app.sources.genicam import GenicamSource
from inspect_app.testing.fakes import wait_until
from inspect_app.testing.genicam_fakes import RecordingHost, fake_config, request, skip_reason
from inspect_app.types import Severity

pytestmark = pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")


@pytest.fixture
def opened() -> list[GenicamSource]:
    sources: list[GenicamSource] = []
    yield sources
    for src in sources:
        src.close()


def _open(opened: list[GenicamSource], src: GenicamSource) -> GenicamSource:
    opened.append(src)
    src.open()
    return src


def test_enumerate_and_find_by_serial_or_id() -> None:
    from inspect_app.sources.genicam_aravis import CameraNotFound, enumerate_cameras, find_camera

    cams = enumerate_cameras(["Fake"])
    assert [(c.device_id, c.model, c.protocol) for c in cams] == [("Fake_1", "Fake", "Fake")]
    assert find_camera(cams[0].serial, ["Fake"]).device_id == "Fake_1"
    with pytest.raises(CameraNotFound, match=r"reachable: Fake serial"):
        find_camera("GV-NOT-THERE", ["Fake"])


def test_a_camera_that_is_not_there_fails_to_open_saying_what_is() -> None:
    src = GenicamSource(fake_config(camera="GV-NOT-THERE"))
    try:
        with pytest.raises(SourceError) as err:
            src.open()
    finally:
        src.close()
    assert err.value.code == "NOT_FOUND" and "Fake serial" in str(err.value)


def test_free_run_hands_out_the_newest_frame_once_and_every_id_is_accounted(opened: list) -> None:
    src = _open(opened, GenicamSource(fake_config()))
    frames = [src.read_for(request(i), 2.0) for i in range(10)]
    camera_ids = [int(f.origin.split(" frame ")[1].split()[0]) for f in frames]
    assert [f.frame_id for f in frames] == list(range(1, 11))
    assert all(b > a for a, b in itertools.pairwise(camera_ids))  # each frame new
    assert all(f.image.shape == (48, 64, 3) for f in frames)
    assert "newest frame matched to trigger 3" in frames[3].origin
    status = src.status()
    assert status.ok and status.state == CameraState.STREAMING and "10 frames used" in status.message
    src.close()
    counts = src.counts()
    assert counts.delivered == 10 and counts.ids >= 10 and counts.unaccounted == 0


def test_software_trigger_gives_each_part_the_frame_taken_after_its_trigger(opened: list) -> None:
    src = _open(opened, GenicamSource(fake_config(trigger="software")))
    frames = [src.read_for(request(i), 2.0) for i in range(5)]
    camera_ids = [int(f.origin.split(" frame ")[1].split()[0]) for f in frames]
    assert len(set(camera_ids)) == 5
    assert all(f"TriggerSoftware for trigger {i}" in f.origin for i, f in enumerate(frames))
    assert src.status().trigger_latency_ms is not None
    assert src.frame_age_limit_s is None  # taken on demand: never stale
    src.close()
    counts = src.counts()
    assert counts.delivered == 5 and counts.unaccounted == 0


def test_hardware_trigger_matches_each_frame_to_one_part_in_order(opened: list) -> None:
    # Aravis's fake camera runs on its Line0 at the frame rate: each frame is a part the PLC saw pass
    src = _open(opened, GenicamSource(fake_config(trigger="hardware", trigger_source="Line0", frame_rate=20)))
    frames = [src.read_for(request(i), 2.0) for i in range(6)]
    camera_ids = [int(f.origin.split(" frame ")[1].split()[0]) for f in frames]
    assert camera_ids == sorted(camera_ids) and len(set(camera_ids)) == 6  # in order, none twice
    assert all(f"hardware trigger matched to trigger {i}" in f.origin for i, f in enumerate(frames))
    src.close()
    assert src.counts().unaccounted == 0


@pytest.mark.parametrize("pixel_format", ["Mono8", "BayerRG8", "RGB8", "Mono16"])
def test_pixel_formats_of_the_camera_become_bgr(opened: list, pixel_format: str) -> None:
    src = _open(opened, GenicamSource(fake_config(pixel_format=pixel_format)))
    frame = src.read_for(request(1), 2.0)
    assert frame.image.shape == (48, 64, 3) and frame.image.dtype.name == "uint8"
    assert int(frame.image.max()) > 0


def test_recipe_settings_are_applied_before_its_first_part_read_back_and_audited(opened: list) -> None:
    recipes = {"a": CameraSettings(exposure_us=2000, gain=3), "b": CameraSettings(exposure_us=500)}
    host = RecordingHost(recipes, recipe="a")
    src = GenicamSource(fake_config(trigger="software"))
    src.bind_station(host)
    _open(opened, src)
    src.read_for(request(1, "a"), 2.0)
    assert host.audits[-1][2:4] == ("camera.settings", "a")
    assert host.audits[-1][5] == {"ExposureTime": "2000", "Gain": "3"}  # as the camera reports them
    host.recipe = "b"  # the operator switched recipe
    frame = src.read_for(request(2, "b"), 2.0)
    assert frame is not None
    _, _, action, target, old, new = host.audits[-1]
    assert (action, target) == ("camera.settings", "b")
    assert old == {"Gain": "3", "ExposureTime": "2000"}
    assert new == {"Gain": "0", "ExposureTime": "500"}  # gain as before a: b does not name it
    assert any("settings of recipe b applied (changeover)" in e[2] for e in host.events)


def test_a_setting_the_camera_refuses_is_a_camera_settings_error(opened: list) -> None:
    host = RecordingHost({"a": CameraSettings(features={"NoSuchFeature": 1})}, recipe="a")
    src = GenicamSource(fake_config())
    src.bind_station(host)
    _open(opened, src)
    with pytest.raises(SourceError) as err:
        src.read_for(request(1, "a"), 1.0)
    assert err.value.code == "CAMERA_SETTINGS" and "NoSuchFeature" in str(err.value)
    status = src.status()
    assert not status.ok and status.code == "CAMERA_SETTINGS"
    assert any(sev == Severity.ERROR and "NoSuchFeature" in msg for _, sev, msg, _ in host.events)
    host.recipes["a"] = CameraSettings(exposure_us=1000)  # the engineer fixes the recipe
    assert wait_until(lambda: src.status().ok, 5.0)
    src.read_for(request(2, "a"), 2.0)


def test_hardware_frame_exposed_under_the_last_recipe_is_not_the_new_recipes_picture(opened: list) -> None:
    recipes = {"a": CameraSettings(exposure_us=2000), "b": CameraSettings(exposure_us=500)}
    host = RecordingHost(recipes, recipe="a")
    src = GenicamSource(fake_config(trigger="hardware", trigger_source="Line0", frame_rate=20))
    src.bind_station(host)
    _open(opened, src)
    src.read_for(request(1, "a"), 2.0)
    assert wait_until(lambda: src.counts().held >= 1, 5.0)  # a frame taken under recipe a waits
    host.recipe = "b"
    refused = 0
    for i in range(2, 12):  # the frames still waiting were exposed under a's settings: refused, one a part
        try:
            src.read_for(request(i, "b"), 2.0)
            break  # a frame exposed under b's settings: b's picture
        except CorruptFrame as exc:
            assert exc.code == "CAMERA_SETTINGS"
            refused += 1
    else:
        pytest.fail("no frame exposed under recipe b's settings")
    assert refused >= 1
    src.close()
    assert src.counts().unaccounted == 0
