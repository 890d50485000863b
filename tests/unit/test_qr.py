"""The link's QR code: what the widget draws from the path reads back as the text it was made of."""

from __future__ import annotations

import re

import pytest
import zxingcpp
from PIL import Image, ImageDraw

from papote.qr import QUIET_ZONE, qr_code

SCALE = 6


def render(size: int, path: str) -> Image.Image:
    """Draw the path as a browser would: each `M x y h w v1 h-w z` is a w×1 dark rectangle."""
    image = Image.new("L", (size * SCALE, size * SCALE), 255)
    draw = ImageDraw.Draw(image)
    runs = re.findall(r"M(\d+) (\d+)h(\d+)v1h-(\d+)z", path)
    assert "".join(f"M{x} {y}h{w}v1h-{w2}z" for x, y, w, w2 in runs) == path  # nothing else in it
    for x, y, w, w2 in runs:
        assert w == w2
        left, top = int(x) * SCALE, int(y) * SCALE
        draw.rectangle([left, top, left + int(w) * SCALE - 1, top + SCALE - 1], fill=0)
    return image


@pytest.mark.parametrize("text", [
    "https://shop.example/cart#papote=ABCDEFGHJK",
    "http://127.0.0.1:8123/demo/?utm_source=mail&x=%C3%A9t%C3%A9#papote=Z2Z2Z2Z2Z2",
    "https://shop.example/" + "long-path/" * 40 + "#papote=QRSTUVWXYZ",
])
def test_the_path_decodes_to_the_text(text: str) -> None:
    code = qr_code(text)
    found = zxingcpp.read_barcodes(render(code.size, code.path))
    assert [r.text for r in found] == [text]
    assert code.as_frame() == {"size": code.size, "path": code.path}


def test_the_quiet_zone_stays_light() -> None:
    code = qr_code("https://shop.example/#papote=ABCDEFGHJK")
    for x, y, _w, _w2 in re.findall(r"M(\d+) (\d+)h(\d+)v1h-(\d+)z", code.path):
        assert QUIET_ZONE <= int(x) < code.size - QUIET_ZONE and QUIET_ZONE <= int(y) < code.size - QUIET_ZONE
