"""Strict image decoding: a picture the decoder would have to repair is refused, never inspected.

OpenCV's ``imdecode`` conceals damage: libjpeg's "Corrupt JPEG data" and "Premature end of data segment"
are warnings it prints and decodes past (grey blocks where the defect was), and a PNG whose header declares
100000 x 100000 pixels is allocated before anything is checked. So every image is first identified by its
magic bytes (a PNG named .jpg is still a PNG), its size is read from its header and checked against
``max_pixels`` before any pixel is decoded, and then:

* JPEG is decoded by libjpeg-turbo in strict mode (``simplejpeg``): every libjpeg warning is an error;
* PNG is walked chunk by chunk: every CRC must match, IHDR first, IEND present, and the zlib stream of the
  image data must be complete and of the exact size the header implies;
* BMP, WebP and TIFF: the header's size fields must fit the file; OpenCV decodes;
* anything else is refused.

What strictness cannot see: a flipped bit inside JPEG entropy data that still decodes to valid Huffman
codes gives a different picture with no error at all (no image format carries a checksum for that).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import cv2
import numpy as np
import simplejpeg

from inspect_app.protocols import CorruptFrame

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # colour type -> samples per pixel


@dataclass(frozen=True, slots=True)
class ImageHeader:
    format: str  # "jpeg" | "png" | "bmp" | "webp" | "tiff"
    width: int
    height: int


def read_header(data: bytes, origin: str) -> ImageHeader:
    """Format and size from the header alone (the first few kB of a file are enough); raises CorruptFrame
    for an unknown or broken header."""
    if not data:
        raise CorruptFrame(origin, "empty file")
    try:
        if data[:3] == b"\xff\xd8\xff":
            h, w, _cs, _sub = simplejpeg.decode_jpeg_header(data, strict=True)
            return ImageHeader("jpeg", int(w), int(h))
        if data[:8] == _PNG_MAGIC:
            w, h = struct.unpack(">II", data[16:24])
            if data[12:16] != b"IHDR":
                raise CorruptFrame(origin, "PNG without IHDR chunk first")
            return ImageHeader("png", w, h)
        if data[:2] == b"BM":
            w, h = struct.unpack("<ii", data[18:26])
            return ImageHeader("bmp", abs(w), abs(h))
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            return _webp_header(data)
        if data[:4] in (b"II*\x00", b"MM\x00*"):
            return _tiff_header(data, origin)
    except (struct.error, ValueError, IndexError) as exc:
        raise CorruptFrame(origin, f"unreadable image header: {exc}") from None
    raise CorruptFrame(origin, "not a decodable image (unknown format)")


def decode_image(data: bytes, origin: str, max_pixels: int = 50_000_000) -> np.ndarray:
    """Decode to HxWx3 uint8 BGR, or raise CorruptFrame (``code`` IMAGE_CORRUPT or IMAGE_TOO_LARGE)."""
    if data[:3] == b"\xff\xd8\xff" and not data.rstrip(b"\x00\r\n ").endswith(b"\xff\xd9"):
        raise CorruptFrame(origin, "truncated JPEG (no end-of-image marker)")
    header = read_header(data, origin)
    if header.width <= 0 or header.height <= 0:
        raise CorruptFrame(origin, f"header declares {header.width}x{header.height} pixels")
    if header.width * header.height > max_pixels:
        raise CorruptFrame(
            origin,
            f"header declares {header.width}x{header.height} pixels, more than max_image_pixels={max_pixels}",
            code="IMAGE_TOO_LARGE",
        )
    if header.format == "jpeg":
        return _decode_jpeg(data, origin)
    if header.format == "png":
        _check_png(data, origin, header)
    elif header.format == "bmp":
        _check_bmp(data, origin, header)
    elif header.format == "webp":
        size = struct.unpack("<I", data[4:8])[0]
        if len(data) < size + 8:
            raise CorruptFrame(origin, f"truncated WebP ({len(data)} of {size + 8} bytes)")
    return _cv2_decode(data, origin)


def _cv2_decode(data: bytes, origin: str) -> np.ndarray:
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error as exc:
        raise CorruptFrame(origin, f"not a decodable image: {str(exc).strip().splitlines()[-1]}") from None
    if image is None or image.size == 0:
        raise CorruptFrame(origin, "not a decodable image")
    return image


# ---------------------------------------------------------------------------------------------- JPEG
def _decode_jpeg(data: bytes, origin: str) -> np.ndarray:
    try:
        _h, _w, colorspace, _sub = simplejpeg.decode_jpeg_header(data, strict=True)
        if colorspace in ("CMYK", "YCCK"):
            # libjpeg-turbo's strict pass validates it; OpenCV knows Adobe's inverted CMYK -> BGR
            simplejpeg.decode_jpeg(data, colorspace="CMYK", strict=True)
            return _cv2_decode(data, origin)
        return simplejpeg.decode_jpeg(data, colorspace="BGR", strict=True)
    except ValueError as exc:
        raise CorruptFrame(origin, f"damaged JPEG: {exc}") from None


# ---------------------------------------------------------------------------------------------- PNG
def _check_png(data: bytes, origin: str, header: ImageHeader) -> None:
    pos, ihdr, idat, seen_end = 8, b"", [], False
    while pos + 12 <= len(data):
        length = struct.unpack(">I", data[pos : pos + 4])[0]
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > len(data):
            raise CorruptFrame(origin, f"truncated PNG (chunk {kind!r} runs past the end of the file)")
        body = data[pos + 8 : pos + 8 + length]
        if zlib.crc32(kind + body) != struct.unpack(">I", data[end - 4 : end])[0]:
            raise CorruptFrame(origin, f"PNG chunk {kind.decode('latin-1')!r} fails its CRC")
        if kind == b"IHDR":
            ihdr = body
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            seen_end = True
            break
        pos = end
    if not seen_end:
        raise CorruptFrame(origin, "truncated PNG (no IEND chunk)")
    if len(ihdr) != 13 or not idat:
        raise CorruptFrame(origin, "PNG without a valid IHDR or without image data")
    depth, colour, _comp, _filter, interlace = ihdr[8:13]
    if colour not in _PNG_CHANNELS or depth not in (1, 2, 4, 8, 16):
        raise CorruptFrame(origin, f"PNG with bit depth {depth} and colour type {colour}")
    _check_png_stream(b"".join(idat), origin, header, depth * _PNG_CHANNELS[colour], bool(interlace))


def _check_png_stream(
    stream: bytes, origin: str, header: ImageHeader, bits_px: int, interlaced: bool
) -> None:
    expected = 0
    for x0, y0, dx, dy in ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
                           (0, 1, 1, 2)) if interlaced else ((0, 0, 1, 1),):  # fmt: skip
        w = (header.width - x0 + dx - 1) // dx
        h = (header.height - y0 + dy - 1) // dy
        if w > 0 and h > 0:
            expected += h * (1 + (w * bits_px + 7) // 8)  # a filter byte per row
    inflater = zlib.decompressobj()
    try:
        # max_length bounds the memory a hostile stream can make us allocate
        got = len(inflater.decompress(stream, expected + 1))
    except zlib.error as exc:
        raise CorruptFrame(origin, f"PNG image data damaged: {exc}") from None
    if not inflater.eof or got != expected:
        raise CorruptFrame(origin, f"PNG image data incomplete ({got} of {expected} bytes)")


# ---------------------------------------------------------------------------------------------- others
def _check_bmp(data: bytes, origin: str, header: ImageHeader) -> None:
    offset = struct.unpack("<I", data[10:14])[0]
    bits, compression = struct.unpack("<HI", data[28:34])
    if compression in (0, 3) and bits in (1, 4, 8, 16, 24, 32):  # uncompressed rows: size is exact
        need = offset + header.height * (((header.width * bits + 31) // 32) * 4)
        if len(data) < need:
            raise CorruptFrame(origin, f"truncated BMP ({len(data)} of {need} bytes)")


def _webp_header(data: bytes) -> ImageHeader:
    chunk = data[12:16]
    if chunk == b"VP8X":
        w = 1 + int.from_bytes(data[24:27], "little")
        h = 1 + int.from_bytes(data[27:30], "little")
    elif chunk == b"VP8L":
        bits = int.from_bytes(data[21:25], "little")
        w, h = 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    elif chunk == b"VP8 ":
        w, h = (v & 0x3FFF for v in struct.unpack("<HH", data[26:30]))
    else:
        raise ValueError(f"unknown WebP chunk {chunk!r}")
    return ImageHeader("webp", w, h)


def _tiff_header(data: bytes, origin: str) -> ImageHeader:
    e = "<" if data[:2] == b"II" else ">"
    ifd = struct.unpack(e + "I", data[4:8])[0]
    count = struct.unpack(e + "H", data[ifd : ifd + 2])[0]
    dims: dict[int, int] = {}
    for k in range(count):
        tag, kind, _n, value = struct.unpack(e + "HHI4s", data[ifd + 2 + 12 * k : ifd + 14 + 12 * k])
        if tag in (256, 257):
            dims[tag] = struct.unpack(e + ("H" if kind == 3 else "I"), value[: 2 if kind == 3 else 4])[0]
    if 256 not in dims or 257 not in dims:
        raise CorruptFrame(origin, "TIFF without width/height tags")
    return ImageHeader("tiff", dims[256], dims[257])
