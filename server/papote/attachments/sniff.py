"""What a file really is, from its bytes: the content type is sniffed, never taken from the client.

A browser's declared type comes from the file's name, and the name is whatever the sender chose, so
neither says anything about the bytes. `sniff` reads the magic numbers (and, for ZIP-based office
documents, the archive's directory) and answers one of the types Papote knows, or a type it never
accepts (HTML, SVG, XML: a browser would run their scripts), or None for anything else.

The types are grouped in the categories a site allows (`CATEGORIES`, the `attachments_types` setting).
Only raster images are ever shown inline; everything else is served as a download (web/files_api.py).
"""

from __future__ import annotations

import io
import zipfile

#: The categories a site may allow, each with the content types it covers and their usual extension.
CATEGORIES: dict[str, dict[str, str]] = {
    "image": {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp"},
    "pdf": {"application/pdf": "pdf"},
    "text": {"text/plain": "txt", "text/csv": "csv"},
    "office": {
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation": "pptx",
        "application/vnd.oasis.opendocument.text": "odt",
        "application/vnd.oasis.opendocument.spreadsheet": "ods",
        "application/vnd.oasis.opendocument.presentation": "odp",
        "application/msword": "doc",
        "application/vnd.ms-excel": "xls",
        "application/vnd.ms-powerpoint": "ppt",
    },
}
#: Every known type → its category.
CATEGORY_OF: dict[str, str] = {t: c for c, types in CATEGORIES.items() for t in types}
#: Rasters Pillow re-encodes (metadata stripped) and browsers may show inline.
IMAGE_TYPES = frozenset(CATEGORIES["image"])
#: Names that claim to be images: a file so named whose bytes are not one is refused as a lie.
IMAGE_EXTENSIONS = frozenset({"jpg", "jpeg", "jpe", "png", "gif", "webp", "bmp", "tif", "tiff", "heic", "avif"})
#: Markup a browser would execute if it rendered it: never accepted, whatever the setting.
ACTIVE_TYPES = frozenset({"text/html", "image/svg+xml", "application/xml"})

_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_LEGACY_OFFICE = {"doc": "application/msword", "xls": "application/vnd.ms-excel",
                  "ppt": "application/vnd.ms-powerpoint"}
_OOXML = {"word/": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
          "xl/": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
          "ppt/": "application/vnd.openxmlformats-officedocument.presentationml.presentation"}
_ODF = {t for t in CATEGORIES["office"] if "opendocument" in t}
#: Markup starts that make a text file HTML or SVG to a browser sniffing it.
_MARKUP = (b"<!doctype", b"<html", b"<head", b"<body", b"<script", b"<svg", b"<?xml", b"<iframe", b"<img",
           b"<style", b"<meta", b"<a ", b"<div", b"<!--")


def extension(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def sniff(data: bytes, name: str = "") -> str | None:
    """The content type of `data`, or None when it is none Papote knows. `name` only chooses among
    types the bytes cannot tell apart (a legacy Office file, CSV versus plain text)."""
    head = data[:16]
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"PK\x03\x04"):
        return _zipped(data)
    if head.startswith(_OLE):
        return _LEGACY_OFFICE.get(extension(name))
    return _text(data, name)


def _zipped(data: bytes) -> str | None:
    """An Office Open XML or OpenDocument file, by its archive's directory (nothing is inflated but
    ODF's few-byte `mimetype` entry)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
            if "mimetype" in names:
                info = archive.getinfo("mimetype")
                if info.file_size <= 100:
                    kind = archive.read("mimetype").decode("ascii", "replace").strip()
                    return kind if kind in _ODF else None
            if "[Content_Types].xml" in names:
                for prefix, kind in _OOXML.items():
                    if any(n.startswith(prefix) for n in names):
                        return kind
    except (zipfile.BadZipFile, ValueError, OSError, NotImplementedError, EOFError):
        return None
    return None


def _text(data: bytes, name: str) -> str | None:
    """UTF-8 text without control characters (a BOM allowed); markup is HTML, whatever its name."""
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if any(ord(c) < 32 and c not in "\t\n\r\f" for c in text):
        return None
    start = body.lstrip()[:64].lower()
    if start.startswith(_MARKUP) or b"<script" in body[:4096].lower():
        return "image/svg+xml" if b"<svg" in body[:4096].lower() else "text/html"
    return "text/csv" if extension(name) == "csv" else "text/plain"


def claims_image(name: str, declared: str) -> bool:
    """Whether the sender says this is an image, by its name or its declared type."""
    return extension(name) in IMAGE_EXTENSIONS or declared.lower().startswith("image/")
