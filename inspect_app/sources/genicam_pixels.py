"""GenICam pixel formats (PFNC codes, as a GigE Vision / USB3 Vision buffer declares them) to the 8-bit BGR
image the detector takes.

Deeper formats are scaled to 8 bits by their top bits (Mono12 >> 4), since the model was trained on 8-bit
pictures; Bayer mosaics are demosaiced by OpenCV. A buffer whose size does not match its declared format
and geometry raises ``PixelDataError``: the station records it as a damaged frame, never as a picture.
No Aravis here, so this is tested everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


class PixelDataError(ValueError):
    """The buffer cannot be this format at this size (truncated, or a format the station does not read)."""


@dataclass(frozen=True, slots=True)
class PixelFormat:
    name: str
    code: int  # PFNC
    kind: str  # "mono", "mono12packed", "mono12p", "bayer", "rgb", "bgr", "yuyv", "uyvy"
    bits: int = 8  # significant bits per sample
    bayer: int | None = None  # OpenCV conversion code for Bayer mosaics


# OpenCV names a Bayer pattern by the 2x2 block starting at the second row and column: PFNC's BayerRG
# (the sensor's first row reads R G) is OpenCV's BayerBG; the RGGB-style aliases say it the sensor's way
_BAYER = {
    "RG": cv2.COLOR_BayerRGGB2BGR,
    "BG": cv2.COLOR_BayerBGGR2BGR,
    "GR": cv2.COLOR_BayerGRBG2BGR,
    "GB": cv2.COLOR_BayerGBRG2BGR,
}
_BAYER_CODES = {  # (pattern, bits) -> PFNC
    ("GR", 8): 0x01080008, ("RG", 8): 0x01080009, ("GB", 8): 0x0108000A, ("BG", 8): 0x0108000B,
    ("GR", 10): 0x0110000C, ("RG", 10): 0x0110000D, ("GB", 10): 0x0110000E, ("BG", 10): 0x0110000F,
    ("GR", 12): 0x01100010, ("RG", 12): 0x01100011, ("GB", 12): 0x01100012, ("BG", 12): 0x01100013,
    ("GR", 16): 0x0110002E, ("RG", 16): 0x0110002F, ("GB", 16): 0x01100030, ("BG", 16): 0x01100031,
}  # fmt: skip

FORMATS: tuple[PixelFormat, ...] = (
    PixelFormat("Mono8", 0x01080001, "mono"),
    PixelFormat("Mono10", 0x01100003, "mono", 10),
    PixelFormat("Mono12", 0x01100005, "mono", 12),
    PixelFormat("Mono14", 0x01100025, "mono", 14),
    PixelFormat("Mono16", 0x01100007, "mono", 16),
    PixelFormat("Mono12Packed", 0x010C0006, "mono12packed", 12),  # GigE Vision 1.x packing
    PixelFormat("Mono12p", 0x010C0047, "mono12p", 12),  # PFNC packing (USB3 Vision, GigE Vision 2)
    *(
        PixelFormat(f"Bayer{p}{b}", code, "bayer", b, _BAYER[p])
        for (p, b), code in _BAYER_CODES.items()
    ),
    PixelFormat("RGB8", 0x02180014, "rgb"),
    PixelFormat("BGR8", 0x02180015, "bgr"),
    PixelFormat("YUV422_8", 0x02100032, "yuyv"),
    PixelFormat("YUV422_8_UYVY", 0x0210001F, "uyvy"),
)
FORMATS_BY_NAME = {f.name: f for f in FORMATS}
FORMATS_BY_CODE = {f.code: f for f in FORMATS}


def format_name(code: int) -> str:
    known = FORMATS_BY_CODE.get(code)
    return known.name if known else f"0x{code:08X}"


def to_bgr(data: bytes, code: int, width: int, height: int, row_padding: int = 0) -> np.ndarray:
    """An HxWx3 uint8 BGR image of its own (the driver's buffer is reused as soon as it is handed back)."""
    fmt = FORMATS_BY_CODE.get(code)
    if fmt is None:
        raise PixelDataError(f"pixel format {format_name(code)} is not read by the station")
    if width < 1 or height < 1:
        raise PixelDataError(f"{fmt.name}: empty image ({width}x{height})")
    row_bytes = _row_bytes(fmt, width)
    stride = row_bytes + row_padding
    need = stride * (height - 1) + row_bytes
    if len(data) < need:
        raise PixelDataError(f"{fmt.name} {width}x{height}: {len(data)} bytes, {need} needed (truncated)")
    raw = np.frombuffer(data, np.uint8, count=need)
    rows = np.lib.stride_tricks.as_strided(raw, (height, row_bytes), (stride, 1))
    return _convert(fmt, rows, width, height)


def _row_bytes(fmt: PixelFormat, width: int) -> int:
    if fmt.kind in ("mono12packed", "mono12p"):
        if width % 2:
            raise PixelDataError(f"{fmt.name}: odd width {width} (two pixels share three bytes)")
        return width * 3 // 2
    per_pixel = {"rgb": 3, "bgr": 3, "yuyv": 2, "uyvy": 2}.get(fmt.kind, 1 if fmt.bits == 8 else 2)
    return width * per_pixel


def _to8(rows: np.ndarray, width: int, height: int, bits: int) -> np.ndarray:
    """Samples in 8-bit or little-endian 16-bit containers, scaled to 8 bits by their top bits."""
    if bits == 8:
        return np.ascontiguousarray(rows).reshape(height, width)
    words = np.ascontiguousarray(rows).view("<u2").reshape(height, width)
    return (words >> (bits - 8)).clip(0, 255).astype(np.uint8)  # clip: bits above the declared depth


def _convert(fmt: PixelFormat, rows: np.ndarray, width: int, height: int) -> np.ndarray:
    if fmt.kind == "mono":
        return cv2.cvtColor(_to8(rows, width, height, fmt.bits), cv2.COLOR_GRAY2BGR)
    if fmt.kind in ("mono12packed", "mono12p"):
        triples = np.ascontiguousarray(rows).reshape(height, width // 2, 3)
        out = np.empty((height, width), np.uint8)
        if fmt.kind == "mono12packed":  # byte 0: P0 bits 11..4; byte 2: P1 bits 11..4
            out[:, 0::2] = triples[:, :, 0]
        else:  # byte 0: P0 bits 7..0, byte 1 low nibble: P0 bits 11..8
            out[:, 0::2] = (triples[:, :, 0] >> 4) | ((triples[:, :, 1] & 0x0F) << 4)
        out[:, 1::2] = triples[:, :, 2]
        return cv2.cvtColor(out, cv2.COLOR_GRAY2BGR)
    if fmt.kind == "bayer":
        assert fmt.bayer is not None
        return cv2.cvtColor(_to8(rows, width, height, fmt.bits), fmt.bayer)
    pixels = np.ascontiguousarray(rows)
    if fmt.kind == "rgb":
        return cv2.cvtColor(pixels.reshape(height, width, 3), cv2.COLOR_RGB2BGR)
    if fmt.kind == "bgr":
        return pixels.reshape(height, width, 3).copy()
    code = cv2.COLOR_YUV2BGR_YUYV if fmt.kind == "yuyv" else cv2.COLOR_YUV2BGR_UYVY
    return cv2.cvtColor(pixels.reshape(height, width, 2), code)
