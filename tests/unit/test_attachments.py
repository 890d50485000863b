"""The attachment rules without a server: sniffing, re-encoding, names, limits, storage, the sweep."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from PIL import ExifTags, Image

from papote.attachments import UPLOAD_RATE, Attachments, FolderStorage, clean_name, limits_of
from papote.attachments.images import MAX_PIXELS, clean
from papote.attachments.sniff import sniff
from papote.authz import ConversationRef, Principal
from papote.errors import ErrorCode, PapoteError
from papote.store import Site, Store
from papote.types import PrincipalKind, Role


def _image(fmt: str, mode: str = "RGB", size: tuple[int, int] = (30, 20), **save: object) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size).save(out, fmt, **save)  # type: ignore[arg-type]
    return out.getvalue()


def _zip(names: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in names.items():
            archive.writestr(name, data)
    return out.getvalue()


@pytest.mark.parametrize(("data", "name", "expected"), [
    (_image("JPEG"), "x.png", "image/jpeg"),
    (_image("PNG"), "x.jpg", "image/png"),
    (_image("GIF", "P"), "", "image/gif"),
    (_image("WEBP"), "", "image/webp"),
    (b"%PDF-1.7\n", "invoice.txt", "application/pdf"),
    ("Bonjour, voilà\n".encode(), "notes.txt", "text/plain"),
    (b"a,b\n1,2\n", "table.csv", "text/csv"),
    (b"<!DOCTYPE html><p>hi", "photo.jpg", "text/html"),
    (b"  <svg xmlns='http://www.w3.org/2000/svg'/>", "logo.txt", "image/svg+xml"),
    (b"text then <script>alert(1)</script>", "a.txt", "text/html"),
    (_zip({"[Content_Types].xml": b"<x/>", "word/document.xml": b"<x/>"}), "a.zip",
     "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    (_zip({"mimetype": b"application/vnd.oasis.opendocument.text"}), "", "application/vnd.oasis.opendocument.text"),
    (_zip({"evil.exe": b"MZ"}), "a.docx", None),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 32, "old.doc", "application/msword"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 32, "old.exe", None),
    (b"MZ\x90\x00\x03", "setup.exe", None),
    (b"\x00\x01\x02binary", "a.txt", None),
])
def test_the_type_comes_from_the_bytes(data: bytes, name: str, expected: str | None) -> None:
    assert sniff(data, name) == expected


def test_a_jpeg_loses_its_exif_and_stands_upright() -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # taken sideways: rotate 90° to view
    exif[ExifTags.Base.GPSInfo] = {ExifTags.GPS.GPSLatitudeRef: "N", ExifTags.GPS.GPSLatitude: (48.0, 51.0, 24.0)}
    image = clean(_image("JPEG", size=(40, 10), exif=exif), "image/jpeg")
    out = Image.open(io.BytesIO(image.data))
    assert not out.getexif() and (image.width, image.height) == (10, 40) == out.size
    assert Image.open(io.BytesIO(image.thumbnail)).format in ("JPEG", "PNG")


def test_an_animated_gif_keeps_its_frames_and_loses_its_comment() -> None:
    frames = [Image.new("RGB", (8, 8), color) for color in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0, comment=b"secret")
    image = clean(out.getvalue(), "image/gif")
    again = Image.open(io.BytesIO(image.data))
    assert getattr(again, "n_frames", 1) == 3 and "comment" not in again.info


def test_an_image_bomb_or_a_broken_image_is_refused() -> None:
    with pytest.raises(PapoteError) as bomb:
        clean(_image("PNG", "1", size=(MAX_PIXELS // 1000 + 1, 1001)), "image/png")
    assert bomb.value.code is ErrorCode.TOO_LARGE
    with pytest.raises(PapoteError) as broken:
        clean(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "image/png")
    assert broken.value.code is ErrorCode.INVALID_FILE


@pytest.mark.parametrize(("name", "content_type", "shown"), [
    ("photo.jpg", "image/png", "photo.png"),
    ("photo.JPEG", "image/jpeg", "photo.JPEG"),
    ("../../etc/passwd", "text/plain", "passwd.txt"),
    ("C:\\Users\\me\\scan.pdf", "application/pdf", "scan.pdf"),
    ('a"b<c>.pdf', "application/pdf", "abc.pdf"),
    ("", "text/plain", "file.txt"),
    ("x" * 300 + ".pdf", "application/pdf", "x" * 196 + ".pdf"),
])
def test_the_name_shown_is_safe_and_says_what_the_file_is(name: str, content_type: str, shown: str) -> None:
    assert clean_name(name, content_type) == shown


def test_a_sites_limits_come_from_its_settings() -> None:
    site = Site("s_1", "pk_1", "Shop", [], [], {"attachments_types": ["pdf"], "attachments_max_mb": 2}, 0)
    limits = limits_of(site)
    assert limits.max_bytes == 2 * 1024 * 1024 and limits.types == frozenset({"application/pdf"})


@pytest.mark.asyncio
async def test_the_sweep_deletes_unsent_uploads_with_their_bytes(any_store: Store, tmp_path: Path) -> None:
    storage = FolderStorage(tmp_path / "files")

    async def ref(conversation_id: str) -> ConversationRef:
        raise AssertionError("not needed")

    files = Attachments(any_store, storage, 3600, ref)
    site = await any_store.create_site("Shop", [], {})
    visitor = await any_store.create_visitor(site.id, "token-hash")
    who = Principal(PrincipalKind.VISITOR, visitor.id, "", site_id=site.id)
    photo = await files.upload(who, site, "a.png", "image/png", _image("PNG"))
    text = await files.upload(who, site, "a.txt", "text/plain", b"hello")
    assert await storage.get(photo.storage_key) and photo.thumbnail_key and await storage.get(photo.thumbnail_key)
    assert await files.sweep(now=photo.created_at + 3_599_000) == 0  # not old enough yet
    assert await files.sweep(now=photo.created_at + 3_601_000) == 2
    assert await any_store.get_attachments([photo.id, text.id]) == {}
    assert await storage.get(photo.storage_key) is None and await storage.get(text.storage_key) is None


@pytest.mark.asyncio
async def test_uploads_are_budgeted_per_uploader(any_store: Store, tmp_path: Path) -> None:
    async def ref(conversation_id: str) -> ConversationRef:
        raise AssertionError("not needed")

    files = Attachments(any_store, FolderStorage(tmp_path / "files"), 3600, ref)
    site = await any_store.create_site("Shop", [], {})
    one = Principal(PrincipalKind.AGENT, "a_one", "", roles={site.id: Role.AGENT})
    other = Principal(PrincipalKind.AGENT, "a_other", "", roles={site.id: Role.AGENT})
    for _ in range(UPLOAD_RATE.amount):
        await files.upload(one, site, "a.txt", "text/plain", b"hello")
    with pytest.raises(PapoteError) as refused:
        await files.upload(one, site, "a.txt", "text/plain", b"hello")
    assert refused.value.code is ErrorCode.RATE_LIMITED
    await files.upload(other, site, "a.txt", "text/plain", b"hello")  # another's budget is untouched
