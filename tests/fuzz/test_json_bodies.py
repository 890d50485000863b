"""Property-based fuzz of the REST API's JSON body parsing, from bytes to every handler.

Two levels. `parse_json` alone, on arbitrary bytes, deep nesting and huge documents: it returns a
value or raises a coded PapoteError, nothing else. Then every route that takes a body, on a real server:
bodies near the route's schema (edges, wrong types, unknown keys), arbitrary JSON, nesting far past
any schema, strings with unpaired surrogates, documents over the size limit. Every answer is a success
or a coded 4xx error (`{"error": {"code", "message"}}`), never a 5xx; the server log has no traceback.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from papote.config import Config
from papote.errors import ErrorCode, PapoteError
from papote.web.api import all_endpoints
from papote.web.http import MAX_JSON_BYTES, Endpoint, parse_json
from tests.fuzz.strategies import ANY_JSON, near
from tests.harness import PapoteServer, new_msg_id, visitor

CODES = {c.value for c in ErrorCode}
SIZES = [pytest.param(40, id="ci"), pytest.param(2_000, id="soak", marks=pytest.mark.soak)]
CRASH_MARKERS = ("Traceback", "Exception in ASGI application")


def nested(depth: int, kind: str) -> str:
    return ("[" * depth + "]" * depth) if kind == "list" else ('{"a":' * depth + "1" + "}" * depth)


RAW = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(str.encode),
    ANY_JSON.map(lambda v: json.dumps(v).encode()),
    st.builds(nested, st.integers(1, 200_000), st.sampled_from(["list", "object"])).map(str.encode),
    st.sampled_from([b'"\\ud800"', b'{"\\udfff": 1}', b"NaN", b'{"a": Infinity}', b"1" * 5000,
                     b'{"a": 1e999}', b"\xff\xfe{}", b"{" * 3, b"[]", b"null"]),
)


@pytest.mark.parametrize("size", [pytest.param(500, id="ci"), pytest.param(50_000, id="soak",
                                                                           marks=pytest.mark.soak)])
def test_parse_json_answers_with_a_value_or_a_code(size: int) -> None:
    @settings(max_examples=size, derandomize=size < 1000, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(RAW)
    def run(raw: bytes) -> None:
        try:
            value = parse_json(raw)
        except PapoteError as exc:
            assert 400 <= exc.code.http_status < 500
            return
        json.dumps(value).encode()  # what came out is plain, valid JSON text

    run()
    with pytest.raises(PapoteError) as too_big:
        parse_json(b" " * (MAX_JSON_BYTES + 1))
    assert too_big.value.code is ErrorCode.TOO_LARGE


def _fill(path: str, ids: dict[str, str]) -> str:
    return re.sub(r"{(\w+)}", lambda m: ids.get(m.group(1), "x_unknown"), path)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PapoteServer, dict[str, str], str]]:
    import asyncio

    server = PapoteServer(Path(tmp_path_factory.mktemp("json-fuzz")),
                          env_extra={"PAPOTE_LOCKOUT_FAILURES": "1000000"})
    server.init()
    server.start()

    async def conversation() -> tuple[str, str]:
        v = await visitor(server)
        await v.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(), "body": "hi"})
        cid = (await v.expect("ack", ref=1))["conversation"]
        await v.close()
        return cid, v.welcome["visitor"]["id"]

    cid, vid = asyncio.run(conversation())
    agent_id = server.cli("agent", "create", "--site", server.site_key, "--email", "fuzz@papote.test",
                          "--password", "fuzz-password-1", "--role", "agent").strip()
    ids = {"key": server.site_key, "cid": cid, "vid": vid, "agent_id": agent_id}
    try:
        yield server, ids, server.login()
    finally:
        server.stop()
        log = server.logs()
        assert not any(marker in log for marker in CRASH_MARKERS), log[-5000:]


BODY_ROUTES = [ep for ep in all_endpoints() if ep.body is not None and not ep.path.endswith("/logout")]


def bodies(ep: Endpoint) -> st.SearchStrategy[bytes]:
    schema = ep.body_schema(Config())
    assert schema is not None
    return st.one_of(
        near(schema).map(lambda v: json.dumps(v).encode()),
        RAW,
        st.integers(1, 3).map(lambda n: json.dumps({"name": "x" * (MAX_JSON_BYTES * n)}).encode()),
    )


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("ep", BODY_ROUTES, ids=[f"{e.method} {e.path}" for e in BODY_ROUTES])
def test_every_body_gets_a_coded_answer(live: tuple[PapoteServer, dict[str, str], str], ep: Endpoint,
                                        size: int) -> None:
    server, ids, cookie = live
    url = server.base_url + _fill(ep.path, ids)

    with httpx.Client(timeout=30, headers={"cookie": cookie}) as client:
        @settings(max_examples=size, derandomize=size < 1000, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(bodies(ep))
        def run(raw: bytes) -> None:
            answer = client.request(ep.method, url, content=raw, headers={"content-type": "application/json"})
            assert answer.status_code < 500, f"{ep.method} {ep.path} {raw[:200]!r}: {answer.text[:500]}"
            if answer.status_code >= 400:
                error: Any = answer.json()["error"]
                assert error["code"] in CODES and isinstance(error["message"], str)

        run()
