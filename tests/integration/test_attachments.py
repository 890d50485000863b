"""Attachments end to end on a real server: upload, send, read back, download — and every refusal.

Images come back re-encoded without metadata (a JPEG's GPS EXIF, a PNG's text chunk); a file that lies
about being an image is refused; limits and types are the site's; files are served only to the
conversation's people, as downloads that cannot act as a page; and a file belongs to exactly one
message, with the exactly-once of `client_msg_id`.
"""

from __future__ import annotations

import io
import urllib.error
import urllib.request
from typing import Any

import pytest
from PIL import ExifTags, Image, PngImagePlugin

from tests.harness import Client, PapoteServer, agent, new_msg_id, visitor

pytestmark = [pytest.mark.asyncio, pytest.mark.both_backends]


def raw(server: PapoteServer, method: str, path: str, data: bytes | None = None,
        headers: dict[str, str] | None = None) -> tuple[int, bytes, dict[str, str]]:
    req = urllib.request.Request(server.base_url + path, data=data, method=method)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read(), {k.lower(): v for k, v in r.headers.items()}
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.read(), {k.lower(): v for k, v in e.headers.items()}


def visitor_auth(client: Client) -> dict[str, str]:
    return {"authorization": f"Bearer {client.welcome['token']}"}


def upload_as_visitor(server: PapoteServer, client: Client, data: bytes, name: str,
                      content_type: str = "application/octet-stream") -> tuple[int, Any]:
    import json

    status, body, _ = raw(server, "POST", f"/api/widget/{server.site_key}/attachments?name={name}", data,
                          {**visitor_auth(client), "content-type": content_type})
    return status, json.loads(body)


def upload_as_agent(server: PapoteServer, cookie: str, data: bytes, name: str) -> tuple[int, Any]:
    import json

    status, body, _ = raw(server, "POST", f"/api/sites/{server.site_key}/attachments?name={name}", data,
                          {"cookie": cookie, "x-papote-request": "1", "content-type": "application/pdf"})
    return status, json.loads(body)


def jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (120, 80), (200, 30, 30))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SpyPhone"
    exif[ExifTags.Base.GPSInfo] = {ExifTags.GPS.GPSLatitudeRef: "N", ExifTags.GPS.GPSLatitude: (48.0, 51.0, 24.0),
                                   ExifTags.GPS.GPSLongitudeRef: "E", ExifTags.GPS.GPSLongitude: (2.0, 21.0, 3.0)}
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    data = out.getvalue()
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(ExifTags.IFD.GPSInfo), "the test image has GPS"
    return data


def png_with_text() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Jane Secret, 12 rue des Lilas")
    out = io.BytesIO()
    Image.new("RGBA", (40, 30), (0, 120, 255, 128)).save(out, "PNG", pnginfo=info)
    assert Image.open(io.BytesIO(out.getvalue())).text
    return out.getvalue()


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


async def send_files(client: Client, cid: str | None, ids: list[str], ref: int, body: str | None = None,
                     cmid: str | None = None) -> dict[str, Any]:
    frame: dict[str, Any] = {"t": "send", "ref": ref, "conversation": cid, "client_msg_id": cmid or new_msg_id(),
                             "attachments": ids}
    if body is not None:
        frame["body"] = body
    await client.send(frame)
    while True:
        got = await client.recv(10)
        if got.get("ref") == ref and got["t"] in ("ack", "error"):
            return got


async def test_a_photo_loses_its_gps_and_a_png_its_text(papote_server: PapoteServer) -> None:
    server = papote_server
    cookie = server.login()
    console = await agent(server, cookie)
    v = await visitor(server)
    status, photo = upload_as_visitor(server, v, jpeg_with_gps(), "holiday.jpg", "image/jpeg")
    assert status == 201, photo
    assert (photo["kind"], photo["content_type"], photo["width"], photo["height"]) == ("image", "image/jpeg", 120, 80)
    status, png = upload_as_visitor(server, v, png_with_text(), "screen.png", "image/png")
    assert status == 201, png
    ack = await send_files(v, None, [photo["id"], png["id"]], 1, body="here")
    assert ack["t"] == "ack", ack
    live = await console.expect("message", timeout=10, seq=ack["seq"])
    assert [a["id"] for a in live["attachments"]] == [photo["id"], png["id"]]
    assert "data" not in live  # the ids are the store's; clients get the files
    status, data, headers = raw(server, "GET", f"/api/attachments/{photo['id']}", headers={"cookie": cookie})
    assert status == 200 and headers["content-type"] == "image/jpeg"
    clean = Image.open(io.BytesIO(data))
    assert not clean.getexif() and "exif" not in clean.info
    assert headers["x-content-type-options"] == "nosniff" and headers["content-disposition"].startswith("inline")
    status, data, _ = raw(server, "GET", f"/api/attachments/{png['id']}", headers={"cookie": cookie})
    assert status == 200 and not Image.open(io.BytesIO(data)).text
    status, thumb, headers = raw(server, "GET", f"/api/attachments/{photo['id']}/thumbnail", headers={"cookie": cookie})
    assert status == 200 and Image.open(io.BytesIO(thumb)).size[0] <= 320
    # The visitor reads their own file through the widget's route, with the token in a header.
    status, mine, _ = raw(server, "GET", f"/api/widget/{server.site_key}/attachments/{photo['id']}",
                          headers=visitor_auth(v))
    assert status == 200 and Image.open(io.BytesIO(mine)).size == (120, 80)
    # History and resume carry the files.
    again = await visitor(server, token=v.welcome["token"])
    await again.send({"t": "resume", "epoch": "", "conversations": {ack["conversation"]: 0}})
    history = await again.expect("history", timeout=10)
    [message] = [m for m in history["messages"] if m["seq"] == ack["seq"]]
    assert [a["name"] for a in message["attachments"]] == ["holiday.jpg", "screen.png"]


async def test_lies_limits_and_types_are_refused_with_codes_and_store_nothing(papote_server: PapoteServer) -> None:
    server = papote_server
    cookie = server.login()
    v = await visitor(server)
    html = b"<!DOCTYPE html><html><script>alert(document.cookie)</script></html>"
    assert upload_as_visitor(server, v, html, "photo.jpg", "image/jpeg")[1]["error"]["code"] == "invalid_file"
    status, body = upload_as_visitor(server, v, html, "notes.txt", "text/plain")
    assert (status, body["error"]["code"]) == (415, "unsupported_type")
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    assert upload_as_visitor(server, v, svg, "logo.svg", "image/svg+xml")[1]["error"]["code"] == "invalid_file"
    broken = b"\xff\xd8\xff\xe0" + b"not really a jpeg" * 10
    assert upload_as_visitor(server, v, broken, "x.bin")[1]["error"]["code"] == "invalid_file"
    status, _, _ = server.http("PATCH", f"/api/sites/{server.site_key}", {"settings": {
        "attachments_max_mb": 1, "attachments_types": ["image", "text"]}}, cookie=cookie)
    assert status == 200
    status, body = upload_as_visitor(server, v, b"a" * (1024 * 1024 + 1), "big.txt")
    assert (status, body["error"]["code"]) == (413, "too_large")
    status, body = upload_as_visitor(server, v, PDF, "invoice.pdf", "application/pdf")
    assert (status, body["error"]["code"]) == (415, "unsupported_type")
    assert server.sql("SELECT count(*) FROM attachments")[0][0] == 0
    # The widget is told the limits in its welcome.
    fresh = await visitor(server)
    assert fresh.welcome["site"]["attachments"]["max_bytes"] == 1024 * 1024
    assert "application/pdf" not in fresh.welcome["site"]["attachments"]["types"]


async def test_files_are_the_conversations_people_only(papote_server: PapoteServer) -> None:
    server = papote_server
    cookie = server.login()
    v = await visitor(server)
    _, pdf = upload_as_visitor(server, v, PDF, "invoice.pdf")
    file_path = f"/api/attachments/{pdf['id']}"
    widget_path = f"/api/widget/{server.site_key}/attachments/{pdf['id']}"
    # Not sent yet: its uploader's only.
    assert raw(server, "GET", file_path, headers={"cookie": cookie})[0] == 404
    assert raw(server, "GET", widget_path, headers=visitor_auth(v))[0] == 200
    ack = await send_files(v, None, [pdf["id"]], 1)
    assert ack["t"] == "ack"
    status, data, headers = raw(server, "GET", file_path, headers={"cookie": cookie})
    assert status == 200 and data == PDF
    assert headers["content-disposition"].startswith("attachment;")
    assert "sandbox" in headers["content-security-policy"] and headers["x-content-type-options"] == "nosniff"
    site_b = server.cli("site", "create", "--name", "B", "--origin", server.base_url).splitlines()[0]
    server.cli("agent", "create", "--site", site_b, "--email", "b@papote.test", "--password", "password-b-1",
               "--role", "owner")
    cookie_b = server.login("b@papote.test", "password-b-1")
    status, key_b, _ = server.http("POST", f"/api/sites/{site_b}/keys", {"name": "B"}, cookie=cookie_b)
    missing = "/api/attachments/at_doesnotexist"
    for headers in ({"cookie": cookie_b}, {"authorization": f"Bearer {key_b['key']}"}):
        foreign = raw(server, "GET", file_path, headers=headers)[0]
        assert foreign == raw(server, "GET", missing, headers=headers)[0] == 404
    other = await visitor(server)
    other_b = await visitor(server, site=site_b)
    assert raw(server, "GET", widget_path, headers=visitor_auth(other))[0] == 404
    assert raw(server, "GET", widget_path, headers=visitor_auth(other_b))[0] == 401  # not a token of this site
    assert raw(server, "GET", widget_path)[0] == 401
    assert raw(server, "GET", file_path)[0] == 401
    # Another visitor cannot send it either: it is not theirs.
    assert (await send_files(other, None, [pdf["id"]], 2))["code"] == "not_found"
    # A private note's file never reaches the visitor.
    console = await agent(server, cookie)
    _, secret = upload_as_agent(server, cookie, PDF, "internal.pdf")
    await console.send({"t": "send", "ref": 5, "conversation": ack["conversation"], "client_msg_id": new_msg_id(),
                        "note": True, "attachments": [secret["id"]]})
    assert (await console.expect("ack", timeout=10, ref=5))["seq"]
    assert raw(server, "GET", f"/api/widget/{server.site_key}/attachments/{secret['id']}",
               headers=visitor_auth(v))[0] == 404
    assert raw(server, "GET", f"/api/attachments/{secret['id']}", headers={"cookie": cookie})[0] == 200


async def test_a_file_belongs_to_one_message_exactly_once(papote_server: PapoteServer) -> None:
    server = papote_server
    cookie = server.login()
    console = await agent(server, cookie)
    v = await visitor(server)
    await v.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(), "body": "hi"})
    cid = (await v.expect("ack", ref=1))["conversation"]
    _, a = upload_as_agent(server, cookie, PDF, "a.pdf")
    _, b = upload_as_agent(server, cookie, PDF, "b.pdf")
    cmid = new_msg_id()
    one = await send_files(console, cid, [a["id"]], 10, body="the invoice", cmid=cmid)
    two = await send_files(console, cid, [a["id"]], 11, body="the invoice", cmid=cmid)
    assert one["t"] == two["t"] == "ack" and one["seq"] == two["seq"]
    other = await send_files(console, cid, [b["id"]], 12, body="the invoice", cmid=cmid)
    assert (other["t"], other["code"]) == ("error", "conflict")
    reused = await send_files(console, cid, [a["id"]], 13, body="again")
    assert (reused["t"], reused["code"]) == ("error", "conflict")
    rows = server.sql("SELECT count(*) FROM messages WHERE client_msg_id=?", cmid)
    assert rows[0][0] == 1
    # b was given back when its send was refused: it can still go, with a message of its own.
    assert (await send_files(console, cid, [b["id"]], 14))["t"] == "ack"
    # The REST route takes files the same way, with the same exactly-once.
    _, c = upload_as_agent(server, cookie, PDF, "c.pdf")
    body = {"client_msg_id": "rest-files-1", "attachments": [c["id"]]}
    s1, ack1, _ = server.http("POST", f"/api/conversations/{cid}/messages", body, cookie=cookie)
    s2, ack2, _ = server.http("POST", f"/api/conversations/{cid}/messages", body, cookie=cookie)
    assert s1 == s2 == 201 and ack1["seq"] == ack2["seq"]
    status, page, _ = server.http("GET", f"/api/conversations/{cid}/messages", cookie=cookie)
    assert [x["name"] for x in page["messages"][-1]["attachments"]] == ["c.pdf"]
    # The visitor sees the agent's file and fetches it.
    got = await v.expect("message", timeout=10, seq=one["seq"])
    assert got["attachments"][0]["name"] == "a.pdf"
    assert raw(server, "GET", f"/api/widget/{server.site_key}/attachments/{a['id']}", headers=visitor_auth(v))[1] == PDF


async def test_the_widget_routes_answer_its_origin_only(papote_server: PapoteServer) -> None:
    server = papote_server
    path = f"/api/widget/{server.site_key}/attachments"
    status, _, headers = raw(server, "OPTIONS", path, headers={
        "origin": server.base_url, "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type"})
    assert status == 204 and headers["access-control-allow-origin"] == server.base_url
    assert "authorization" in headers["access-control-allow-headers"]
    _, _, headers = raw(server, "OPTIONS", path, headers={"origin": "https://evil.test",
                                                          "access-control-request-method": "POST"})
    assert "access-control-allow-origin" not in headers
    v = await visitor(server)
    status, _, headers = raw(server, "POST", path + "?name=a.txt", b"hello", {**visitor_auth(v),
                                                                            "origin": server.base_url})
    assert status == 201 and headers["access-control-allow-origin"] == server.base_url
