"""A push service on loopback, for tests: a real HTTP server (Starlette on uvicorn, in a thread) that
keeps every push it is sent, answers 201 (or what a test set for an endpoint), and decodes what it got
the way a browser would: the VAPID token checked against the server's public key, the body decrypted
with the subscription's private key. Nothing here reaches past 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import http_ece
import uvicorn
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from papote.b64url import b64url, unb64url
from tests.harness import free_port


@dataclass
class Browser:
    """One browser's subscription keys, as `pushManager.subscribe` makes them: a P-256 pair and a
    16-byte auth secret. The public halves go to the server; the private key reads the pushes."""

    endpoint: str
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    def subscription(self) -> dict[str, Any]:
        public = self.key.public_key().public_bytes(serialization.Encoding.X962,
                                                    serialization.PublicFormat.UncompressedPoint)
        return {"endpoint": self.endpoint, "keys": {"p256dh": b64url(public), "auth": b64url(self.auth)}}

    def decrypt(self, body: bytes) -> dict[str, Any]:
        plain = http_ece.decrypt(body, private_key=self.key, auth_secret=self.auth, version="aes128gcm")
        return dict(json.loads(plain))


@dataclass
class Push:
    path: str
    headers: dict[str, str]
    body: bytes


def vapid_claims(authorization: str, public_key: str) -> dict[str, Any]:
    """The claims of `Authorization: vapid t=<JWT>, k=<key>`, after checking that `k` is the server's
    key and that the JWT's ES256 signature verifies with it. Raises on any mismatch."""
    scheme, _, params = authorization.partition(" ")
    assert scheme == "vapid", authorization
    parts = dict(p.strip().split("=", 1) for p in params.split(","))
    assert parts["k"] == public_key, "the token names another key"
    header, claims, signature = parts["t"].split(".")
    assert json.loads(unb64url(header)) == {"typ": "JWT", "alg": "ES256"}
    raw = unb64url(signature)
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(public_key))
    der = utils.encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    try:
        key.verify(der, f"{header}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise AssertionError("the VAPID signature does not verify") from None
    return dict(json.loads(unb64url(claims)))


class FakePushService:
    def __init__(self) -> None:
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.pushes: list[Push] = []
        #: path → status to answer instead of 201 (410: the browser unsubscribed).
        self.answers: dict[str, int] = {}
        self._lock = threading.Lock()
        app = Starlette(routes=[Route("/{path:path}", self._receive, methods=["POST"])])
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                     lifespan="off"))
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def endpoint(self, name: str) -> str:
        return f"{self.origin}/push/{name}"

    async def _receive(self, request: Request) -> Response:
        push = Push(request.url.path, dict(request.headers), await request.body())
        with self._lock:
            self.pushes.append(push)
        return Response(status_code=self.answers.get(push.path, 201))

    def start(self) -> FakePushService:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            assert time.monotonic() < deadline, "the fake push service did not start"
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)

    def received(self, path_part: str) -> list[Push]:
        with self._lock:
            return [p for p in self.pushes if path_part in p.path]

    def wait_for(self, path_part: str, count: int, timeout: float = 30) -> list[Push]:
        """The first `count` pushes to endpoints whose path holds `path_part` (waits for them)."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.received(path_part)
            if len(got) >= count:
                return got
            assert time.monotonic() < deadline, f"{len(got)} pushes to {path_part}, expected {count}"
            time.sleep(0.05)
