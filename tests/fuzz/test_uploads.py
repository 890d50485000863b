"""Property-based fuzz of what an upload goes through: sniffing and re-encoding arbitrary bytes.

Whatever the bytes — random, a real image cut short or with bytes flipped, a real image with junk
appended, an archive's header on nothing — `sniff` answers a type or None, and `images.clean` returns
a clean image or refuses with a coded error (`invalid_file`, `too_large`): never another exception,
which the server would answer 500.
"""

from __future__ import annotations

import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from papote.attachments import images
from papote.attachments.sniff import IMAGE_TYPES, sniff
from papote.errors import ErrorCode, PapoteError

SIZES = [pytest.param(200, id="ci"), pytest.param(3_000, id="soak", marks=pytest.mark.soak)]


def _real(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (13, 7), (200, 100, 50)).save(out, fmt)
    return out.getvalue()


REAL = [_real(fmt) for fmt in ("JPEG", "PNG", "GIF", "WEBP")]
MAGIC = [b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"RIFF\x00\x00\x00\x00WEBP", b"%PDF-", b"PK\x03\x04",
         b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"<svg", b"\xef\xbb\xbf"]


@st.composite
def mangled(draw: st.DrawFn) -> bytes:
    base = draw(st.sampled_from(REAL))
    data = bytearray(base)
    for _ in range(draw(st.integers(0, 8))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    cut = draw(st.integers(1, len(data)))
    return bytes(data[:cut]) + draw(st.binary(max_size=64))


BYTES = st.one_of(
    st.binary(max_size=300),
    st.tuples(st.sampled_from(MAGIC), st.binary(max_size=300)).map(lambda p: p[0] + p[1]),
    mangled(),
)


@pytest.mark.parametrize("size", SIZES)
def test_any_bytes_are_sniffed_and_cleaned_or_refused_with_a_code(size: int) -> None:
    @settings(max_examples=size, derandomize=size < 1000, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(BYTES, st.sampled_from(["a.jpg", "a.txt", "a.doc", "a.csv", "", "a"]))
    def run(data: bytes, name: str) -> None:
        kind = sniff(data, name)
        assert kind is None or isinstance(kind, str)
        if kind in IMAGE_TYPES:
            try:
                image = images.clean(data, kind)
            except PapoteError as exc:
                assert exc.code in (ErrorCode.INVALID_FILE, ErrorCode.TOO_LARGE), exc
            else:
                assert sniff(image.data) == kind and image.width > 0 and image.height > 0

    run()
