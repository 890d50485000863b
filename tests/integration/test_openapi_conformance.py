"""The REST API against its own OpenAPI document, by schemathesis: a real server, a signed-in owner.

Schemathesis reads /api/openapi.json, generates schema-valid and schema-violating requests for every
operation, and checks each answer: no server error, a documented status and content type, a body
that fits the declared response schema, violating requests refused, valid ones not refused (400),
405 with the right `Allow` for undeclared methods. Bounded and deterministic for CI: a fixed number of
examples per operation, a fixed seed, no example database. Zero failures is the bar.

Path parameters name real resources (a site, a conversation, a visitor, an agent, a key, a canned
response) so requests reach the handlers instead of stopping at `not_found`. `POST /api/logout` ends
the session: schemathesis signs in again through `POST /api/login` whenever it meets a 401.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.harness import ROOT, PapoteServer, free_port, new_msg_id, visitor

pytestmark = pytest.mark.asyncio

#: Test cases per operation and phase: 5 in CI, 100 under `make soak` (the security review used 15).
#: 10 in CI was the single longest test of `make test` (120 s on a busy 2-core run, a file scheduled
#: as one unit). The number bounds the random cases of the fuzzing phase; every operation still goes
#: through the examples and coverage phases, and the soak run keeps the long search.
CI_EXAMPLES = 5
SIZES = [pytest.param(CI_EXAMPLES, id="ci"), pytest.param(100, id="soak", marks=pytest.mark.soak)]
SEED = 20261203
CHECKS = ",".join([
    "not_a_server_error", "status_code_conformance", "content_type_conformance",
    "response_headers_conformance", "response_schema_conformance", "negative_data_rejection",
    "positive_data_acceptance", "missing_required_header", "unsupported_method", "allow_header_conformance",
    "ignored_auth",
])


def _config(server: PapoteServer, fixed: dict[str, str], api_key: str, visitor_token: str) -> str:
    params = "\n".join(f'"path.{name}" = {json.dumps(value)}' for name, value in fixed.items())
    # Like the console, every request says it is no cross-site form (the CSRF rule of docs/rest-api.md).
    return f"""
headers = {{ "X-Papote-Request" = "1" }}

# Text holding U+0000 is refused everywhere, by one rule (docs/rest-api.md: no store keeps it) that the
# string schemas do not each restate: generating it only finds that rule again, at random.
[generation]
allow-x00 = false

[auth.dynamic.openapi.session]
path = "/api/login"
payload = {{ email = {json.dumps(server.agent_email)}, password = {json.dumps(server.agent_password)} }}
extract_from = "cookie"
extract_selector = "papote_session"

[auth.openapi.apiKey]
bearer = {json.dumps(api_key)}

[auth.openapi.visitorToken]
bearer = {json.dumps(visitor_token)}

# An upload's bytes fit its schema (any bytes) and may still be refused for what they are: a type the
# site does not take (415), an image that is not one (422), over the size (413).
[[operations]]
include-path-regex = "/attachments$"
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "413", "415", "422", "429"]

# A snooze's end fits its schema (an integer of epoch ms) and may still be refused (400 bad_field) for
# when it is: it must come after now and within a year, by the server's clock, which no schema states.
[[operations]]
include-path-regex = "/snooze$"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "403", "404", "409", "429"]

[parameters]
{params}
"""


async def _fixtures(server: PapoteServer) -> tuple[dict[str, str], str]:
    """Real ids for every path parameter, and an API key of the site."""
    owner = server.login()
    status, endpoint, _ = server.http("POST", f"/api/sites/{server.site_key}/webhooks", {
        "url": f"http://127.0.0.1:{free_port()}/hook", "events": ["message.created"]}, cookie=owner)
    assert status == 201, endpoint
    v = await visitor(server)
    await v.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(), "body": "hello"})
    cid = (await v.expect("ack", ref=1))["conversation"]
    agent_id = server.cli("agent", "create", "--site", server.site_key, "--email", "second@papote.test",
                          "--password", "second-password-1", "--role", "agent").strip()
    key = server.site_key
    status, created, _ = server.http("POST", f"/api/sites/{key}/keys", {"name": "conformance"}, cookie=owner)
    assert status == 201
    status, canned, _ = server.http("POST", f"/api/sites/{key}/canned", {"shortcut": "hi", "body": "Hello!"},
                                    cookie=owner)
    assert status == 201
    req = urllib.request.Request(f"{server.base_url}/api/widget/{key}/attachments?name=a.txt", data=b"a file",
                                 method="POST", headers={"authorization": f"Bearer {v.welcome['token']}"})
    with urllib.request.urlopen(req, timeout=10) as answer:
        attachment_id = json.loads(answer.read())["id"]
    await v.send({"t": "send", "ref": 2, "conversation": cid, "client_msg_id": new_msg_id(),
                  "attachments": [attachment_id]})
    await v.expect("ack", ref=2)
    log = f"/api/sites/{key}/webhooks/{endpoint['id']}/deliveries"
    for _ in range(200):  # the messages' deliveries, queued right after their COMMIT
        deliveries = server.http("GET", log, cookie=owner)[1]["deliveries"]
        if deliveries:
            break
        await asyncio.sleep(0.05)
    # A message the spam filter holds, and a saved view: their routes get real ids too.
    assert server.http("PATCH", f"/api/sites/{key}", {"settings": {"spam_words": ["casino"]}}, cookie=owner)[0] == 200
    await v.send({"t": "send", "ref": 3, "conversation": cid, "client_msg_id": new_msg_id(), "body": "casino"})
    assert (await v.expect("error", ref=3))["code"] == "held"
    _, held, _ = server.http("GET", f"/api/sites/{key}/held", cookie=owner)
    _, view, _ = server.http("POST", f"/api/sites/{key}/views", {"name": "VIP", "labels": ["vip"]}, cookie=owner)
    fixed = {"key": key, "cid": cid, "endpoint_id": endpoint["id"], "delivery_id": deliveries[-1]["id"],
             "vid": v.welcome["visitor"]["id"], "agent_id": agent_id,
             "key_id": created["id"], "canned_id": canned["id"], "attachment_id": attachment_id,
             "held_id": held["held"][0]["id"], "view_id": view["id"], "visitor_token": v.welcome["token"]}
    return fixed, created["key"]


def run_schemathesis(server: PapoteServer, workdir: Path, fixed: dict[str, str], api_key: str,
                     examples: int, *extra: str) -> tuple[int, str, list[dict[str, Any]]]:
    config = workdir / "schemathesis.toml"
    fixed = dict(fixed)
    token = fixed.pop("visitor_token")
    config.write_text(_config(server, fixed, api_key, token))
    report = workdir / "report.ndjson"
    args = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "--no-color",
        "run", server.base_url + "/api/openapi.json",
        "--checks", CHECKS, "--max-examples", str(examples), "--seed", str(SEED),
        "--generation-database", "none", "--workers", "1", "--phases", "examples,coverage,fuzzing",
        "--request-timeout", "30", "--suppress-health-check", "all",
        # U+0000 is refused in any text of any request, a rule the document states once in its
        # description (it cannot be a schema of keys a body does not describe); tests/unit/test_nul_text.py
        # and the store contract check that refusal.
        "--generation-allow-x00", "false",
        "--report", "ndjson", "--report-ndjson-path", str(report), *extra,
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(args, capture_output=True, text=True, timeout=max(600, examples * 20), cwd=workdir, env=env)
    if os.environ.get("PAPOTE_SCHEMATHESIS_OUT"):  # for a developer reading a whole run
        Path(os.environ["PAPOTE_SCHEMATHESIS_OUT"]).write_text(out.stdout + out.stderr)
    events = [json.loads(line) for line in report.read_text().splitlines()] if report.exists() else []
    return out.returncode, out.stdout + out.stderr, events


@pytest.mark.parametrize("examples", SIZES)
async def test_the_api_conforms_to_its_openapi_document(tmp_path: Path, examples: int) -> None:
    examples = int(os.environ.get("PAPOTE_SCHEMATHESIS_EXAMPLES", examples))
    server = PapoteServer(tmp_path, env_extra={
        # Schemathesis signs in with made-up emails by the hundred, all from one address: the lockouts
        # (per account and per client address) would end its run.
        "PAPOTE_LOCKOUT_FAILURES": "1000000",
        "PAPOTE_LOCKOUT_ADDRESS_FAILURES": "1000000",
        # A webhook endpoint on loopback (nothing listens there), so its log has deliveries to list.
        "PAPOTE_WEBHOOK_ALLOW_PRIVATE": "1",
    })
    server.init()
    server.start()
    try:
        fixed, api_key = await _fixtures(server)
        code, output, _ = run_schemathesis(server, tmp_path, fixed, api_key, examples)
    finally:
        server.stop()
    tail = output[-30000:]
    assert "Tested:" in output, tail  # it did run the operations
    summary = output.split("SUMMARY")[-1]
    assert code == 0 and "Failures:" not in summary and "Errors:" not in summary, tail
