"""Photos of every pixel mode decode to the 8-bit RGB they show (16-bit ones included)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hmrflow.application.inputs import DemoInputError, load_photo


def write_png16(path: Path, pixels: np.ndarray) -> None:
    """A 16-bit PNG of ``pixels`` (H, W) grey or (H, W, 3) RGB uint16 (Pillow cannot write 16-bit RGB)."""
    height, width = pixels.shape[:2]
    color_type = 0 if pixels.ndim == 2 else 2
    rows = b"".join(b"\x00" + pixels[y].astype(">u2").tobytes() for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 16, color_type, 0, 0, 0)
    chunks = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunks)


def gradient(width: int = 64, height: int = 48) -> np.ndarray:
    """A 16-bit grey ramp from 0 to 65535, left to right."""
    return np.tile(np.linspace(0, 65535, width), (height, 1)).round().astype(np.uint16)


def test_a_16_bit_grey_png_is_scaled_to_8_bits_not_clipped_to_white(tmp_path):
    path = tmp_path / "grey16.png"
    Image.fromarray(gradient()).save(path)
    assert Image.open(path).mode == "I;16"  # what Pillow gives: 0 - 65535
    pixels = load_photo(path).pixels
    assert pixels.shape == (48, 64, 3) and pixels.dtype == np.uint8
    expected = np.round(gradient()[0] / 257.0)
    assert np.abs(pixels[0, :, 0].astype(float) - expected).max() <= 1
    assert pixels.mean() == pytest.approx(127.5, abs=2)  # a mid-grey ramp, not almost white


def test_a_16_bit_rgb_png_keeps_its_colours(tmp_path):
    pixels = np.zeros((8, 8, 3), np.uint16)
    pixels[..., 0], pixels[..., 1], pixels[..., 2] = 65535, 32768, 0
    write_png16(tmp_path / "rgb16.png", pixels)
    assert load_photo(tmp_path / "rgb16.png").pixels[0, 0].tolist() == pytest.approx([255, 128, 0], abs=1)


def test_a_32_bit_integer_photo_with_16_bit_values_is_scaled_and_wider_ones_are_refused(tmp_path):
    Image.fromarray(gradient().astype(np.int32)).save(tmp_path / "wide.tif")
    assert Image.open(tmp_path / "wide.tif").mode == "I"
    assert load_photo(tmp_path / "wide.tif").pixels.mean() == pytest.approx(127.5, abs=2)
    Image.fromarray(np.full((8, 8), 1_000_000, np.int32)).save(tmp_path / "huge.tif")
    with pytest.raises(DemoInputError, match=r"huge.tif: 32-bit pixels \(1e\+06 to 1e\+06\)"):
        load_photo(tmp_path / "huge.tif")


def test_floating_point_photos_are_refused_with_what_to_do(tmp_path):
    Image.fromarray(np.full((8, 8), 0.5, np.float32)).save(tmp_path / "float.tif")
    with pytest.raises(DemoInputError, match=r"float.tif: floating-point pixels .* 8- or 16-bit PNG or a JPEG"):
        load_photo(tmp_path / "float.tif")


def test_transparent_pixels_become_white_and_opaque_ones_keep_their_colour(tmp_path):
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[:, :4] = (200, 10, 10, 255)  # opaque red on the left, transparent black on the right
    Image.fromarray(rgba).save(tmp_path / "alpha.png")
    pixels = load_photo(tmp_path / "alpha.png").pixels
    assert pixels[0, 0].tolist() == [200, 10, 10] and pixels[0, 7].tolist() == [255, 255, 255]


@pytest.mark.parametrize("mode", ["L", "P", "1", "CMYK", "LA"])
def test_other_8_bit_modes_decode_to_rgb(tmp_path, mode):
    image = Image.new("RGB", (16, 12), (90, 120, 150)).convert(mode)
    image.save(tmp_path / f"photo.{'tif' if mode == 'CMYK' else 'png'}")
    pixels = load_photo(next(tmp_path.glob("photo.*"))).pixels
    assert pixels.shape == (12, 16, 3) and pixels.dtype == np.uint8
