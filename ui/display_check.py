"""Can Qt open a window on this machine? Asked once, in a child process, before the window starts.

When its platform plugin cannot start, Qt prints a few lines and aborts the whole process (SIGABRT, exit
status 134), and what it prints can mislead: with PyQt6 6.5+ a missing ``libxcb-icccm4`` is reported as
"xcb-cursor0 or libxcb-cursor0 is needed" even where that library is installed. So a child process tries,
and when it fails we say in one line what is missing: the shared libraries ``ldd`` cannot find for the
plugin (with the Debian/Ubuntu packages that hold them), or the display that cannot be reached.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

_PROBE = "import sys\nfrom PyQt6.QtGui import QGuiApplication\nQGuiApplication(sys.argv[:1])\n"
_NO_WINDOW_PLATFORMS = ("offscreen", "minimal", "vnc")  # no display needed: nothing to check
_MISSING_SO = re.compile(r"^\s*(\S+\.so[.\d]*) => not found", re.MULTILINE)
_IMPORT_SO = re.compile(r"(lib\S+?\.so[.\d]*): cannot open shared object file")


def window_problem(timeout_s: float = 30.0) -> str | None:
    """None when a Qt application can start here; else one line saying what is missing."""
    platform = os.environ.get("QT_QPA_PLATFORM", "").split(":")[0]
    if platform in _NO_WINDOW_PLATFORMS:
        return None
    if not platform and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return "no display (DISPLAY and WAYLAND_DISPLAY are unset)"
    try:
        res = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                             timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        return f"Qt did not open the display within {timeout_s:.0f} s"
    if res.returncode == 0:
        return None
    return explain(res.stderr, missing_libraries(platform or "xcb"))


def explain(qt_output: str, missing: list[str]) -> str:
    """One line from what the probe printed and the libraries ``ldd`` could not find."""
    if missing:
        return (f"system libraries missing for Qt: {', '.join(missing)} "
                f"(Debian/Ubuntu: sudo apt install {' '.join(debian_package(m) for m in missing)})")
    m = _IMPORT_SO.search(qt_output)
    if m:
        return f"system library missing for Qt: {m.group(1)} (Debian/Ubuntu: {debian_package(m.group(1))})"
    m = re.search(r"could not connect to display\s*(\S*)", qt_output)
    if m:
        shown = m.group(1) or os.environ.get("DISPLAY", "")
        return f"cannot connect to the X display {shown} (is the X server running, and may this user use it?)"
    if "wl_display" in qt_output or ("wayland" in qt_output.lower() and "failed" in qt_output.lower()):
        return f"cannot connect to the Wayland display {os.environ.get('WAYLAND_DISPLAY', '')}"
    lines = [ln.strip() for ln in qt_output.splitlines() if ln.strip()]
    return f"Qt could not start: {lines[0] if lines else 'no message'}"


def missing_libraries(platform: str) -> list[str]:
    """Shared libraries that Qt's platform plugin (and Qt's GUI library) need and the loader cannot find."""
    try:
        import PyQt6
    except ImportError:
        return []
    qt = Path(PyQt6.__file__).resolve().parent / "Qt6"
    files = [qt / "plugins" / "platforms" / f"libq{platform}.so", qt / "lib" / "libQt6Gui.so.6"]
    found: list[str] = []
    for f in files:
        if not f.exists():
            continue
        try:
            out = subprocess.run(["ldd", str(f)], capture_output=True, text=True, timeout=10, check=False)
        except (OSError, subprocess.TimeoutExpired):  # no ldd (not glibc): say what Qt said instead
            return []
        found += [so for so in dict.fromkeys(_MISSING_SO.findall(out.stdout)) if so not in found]
    return found


# libraries whose Debian package does not follow the naming rule below
_PACKAGES = {
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libGLdispatch.so.0": "libglvnd0",
    "libbrotlidec.so.1": "libbrotli1",
    "libbrotlicommon.so.1": "libbrotli1",
}


def debian_package(soname: str) -> str:
    """Debian's name for the package of a shared library: ``libxcb-icccm.so.4`` -> ``libxcb-icccm4``,
    ``libxkbcommon-x11.so.0`` -> ``libxkbcommon-x11-0`` (a hyphen when the name ends in a digit)."""
    if soname in _PACKAGES:
        return _PACKAGES[soname]
    base, _, version = soname.partition(".so")
    version = version.lstrip(".").split(".")[0]
    base = base.lower()
    return f"{base}-{version}" if base[-1:].isdigit() and version else f"{base}{version}"
