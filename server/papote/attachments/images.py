"""Images are re-encoded before anyone sees them: the pixels survive, nothing else does.

A phone's photo carries EXIF (the GPS position of the visitor's home, the device's serial), PNGs carry
text chunks, and any of them may hide a payload after the image data. Decoding the pixels and encoding
them afresh with Pillow drops all of it; only the colour profile is kept (it changes how the pixels
look, and says nothing about the person). The EXIF orientation is applied to the pixels first, so a
photo taken sideways stays upright once its EXIF is gone.

Pure functions of bytes, run in a worker thread (they take milliseconds to a second of CPU).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from papote.errors import ErrorCode, PapoteError

#: Pixels an image may have: 40 megapixels is a large phone photo. Decoding is bounded by it before
#: any pixel is read (a 100 KB PNG can claim 50,000 × 50,000 pixels: a decompression bomb).
MAX_PIXELS = 40_000_000
#: Frames kept of an animated GIF or WebP (each is decoded and re-encoded).
MAX_FRAMES = 200
#: The thumbnail fits in this square: twice the 160 px the widget and console show, for sharp screens.
THUMBNAIL_SIDE = 320
JPEG_QUALITY = 88

_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF", "image/webp": "WEBP"}


@dataclass(frozen=True, slots=True)
class CleanImage:
    data: bytes
    width: int
    height: int
    thumbnail: bytes
    thumbnail_type: str


def _refuse(message: str) -> PapoteError:
    return PapoteError(message, ErrorCode.INVALID_FILE)


def clean(data: bytes, content_type: str) -> CleanImage:
    """`data` (sniffed as `content_type`) decoded and encoded again without metadata, and a thumbnail.
    `invalid_file` when the bytes do not decode as that image; `too_large` over MAX_PIXELS."""
    fmt = _FORMATS[content_type]
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=[fmt]) as source:
                if source.width * source.height > MAX_PIXELS:
                    raise PapoteError(f"the image is over {MAX_PIXELS // 1_000_000} megapixels", ErrorCode.TOO_LARGE)
                frames = getattr(source, "n_frames", 1)
                if frames > MAX_FRAMES:
                    raise PapoteError(f"the animation has over {MAX_FRAMES} frames", ErrorCode.TOO_LARGE)
                return _reencode(source, fmt, frames)
        except PapoteError:
            raise
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError,
                Image.DecompressionBombWarning) as exc:
            raise _refuse(f"the file is not a readable image ({type(exc).__name__})") from None


def _reencode(source: Image.Image, fmt: str, frames: int) -> CleanImage:
    icc = source.info.get("icc_profile")
    out = io.BytesIO()
    if frames > 1 and fmt in ("GIF", "WEBP"):
        # An animation: every frame's pixels, with its timing; the comment and any extension are gone.
        images = []
        durations = []
        for index in range(frames):
            source.seek(index)
            durations.append(int(source.info.get("duration", 100)))
            images.append(source.convert("RGBA"))
        first = images[0]
        first.info = {}
        first.save(out, fmt, save_all=True, append_images=images[1:], duration=durations,
                   loop=int(source.info.get("loop", 0)), **({"lossless": True} if fmt == "WEBP" else {}))
        picture = first
    else:
        source.load()
        picture = ImageOps.exif_transpose(source) or source
        picture = picture.copy()
        picture.info = {}
        options: dict[str, object] = {}
        if fmt == "JPEG":
            if picture.mode not in ("RGB", "L"):
                picture = picture.convert("RGB")
            options = {"quality": JPEG_QUALITY, "optimize": True}
        elif fmt == "WEBP":
            options = {"quality": JPEG_QUALITY}
        elif fmt == "GIF" and picture.mode not in ("P", "L"):
            picture = picture.convert("P")
        if icc and fmt in ("JPEG", "PNG", "WEBP"):
            options["icc_profile"] = icc
        picture.save(out, fmt, **options)
    thumb, thumb_type = thumbnail(picture)
    return CleanImage(out.getvalue(), picture.width, picture.height, thumb, thumb_type)


def thumbnail(picture: Image.Image) -> tuple[bytes, str]:
    """A small copy for message lists: JPEG, or PNG where there is transparency to keep."""
    small = picture.copy()
    small.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
    alpha = small.mode in ("RGBA", "LA", "PA") or (small.mode == "P" and "transparency" in small.info)
    out = io.BytesIO()
    if alpha:
        small.convert("RGBA").save(out, "PNG", optimize=True)
        return out.getvalue(), "image/png"
    small.convert("RGB").save(out, "JPEG", quality=80)
    return out.getvalue(), "image/jpeg"
