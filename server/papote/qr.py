"""The QR code of a "continue on another device" link, as one SVG path the widget draws.

segno encodes (it picks the smallest version for the text, and the mask); we only turn its matrix into
path data: one `M x y h w v1 h-w z` per horizontal run of dark modules, offset by the quiet zone. A path
of plain numbers and letters is safe to set as an attribute, so the widget never parses markup from the
network, and a 10-character code on a shop's URL stays a few KB.
"""

from __future__ import annotations

from dataclasses import dataclass

import segno

#: The light margin around the symbol, in modules: the specification asks for 4 so a phone's camera
#: finds the finder patterns against any page.
QUIET_ZONE = 4
#: Error correction M (15 % of the symbol may be lost): a phone screen photographed at an angle reads
#: back, and the symbol stays small enough for the panel at a URL's length.
ERROR_LEVEL = "m"


@dataclass(frozen=True, slots=True)
class QrCode:
    size: int
    """Width and height in modules, the quiet zone included: the SVG's viewBox is `0 0 size size`."""
    path: str
    """SVG path data of the dark modules."""

    def as_frame(self) -> dict[str, int | str]:
        return {"size": self.size, "path": self.path}


def qr_code(text: str) -> QrCode:
    matrix = segno.make_qr(text, error=ERROR_LEVEL, boost_error=False).matrix
    parts: list[str] = []
    for y, row in enumerate(matrix):
        x = 0
        width = len(row)
        while x < width:
            if not row[x]:
                x += 1
                continue
            start = x
            while x < width and row[x]:
                x += 1
            run = x - start
            parts.append(f"M{start + QUIET_ZONE} {y + QUIET_ZONE}h{run}v1h-{run}z")
    return QrCode(len(matrix) + 2 * QUIET_ZONE, "".join(parts))
