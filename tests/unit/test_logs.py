from __future__ import annotations

import logging

import pytest

from papote.logs import REDACTED, install_redaction, redact


@pytest.mark.parametrize("line", [
    "< cookie: papote_session=ps_vfFXD2dcHlEdFLTUsG7P2O9GVCdNqxCfdP2hE3xF2CE; other=1",
    "> Set-Cookie: __Host-papote_session=abc; Path=/",
    "authorization: Bearer papi_0123456789abcdefghijkl",
    "headers: [('authorization', 'Basic dXNlcjpwYXNz')]",
    "token vt_AbCdEfGhIjKlMnOpQrStUv in a message",
    "invite inv_AbCdEfGhIjKlMnOpQrStUv",
    "secret " + "ab" * 32,
])
def test_credentials_are_redacted(line: str) -> None:
    out = redact(line)
    assert REDACTED in out
    for secret in ("ps_vfFX", "abc;", "papi_0123", "dXNlcjpwYXNz", "vt_AbCd", "inv_AbCd", "ab" * 32):
        assert secret not in out


def test_plain_lines_are_left_alone() -> None:
    line = "papote ready: database ./papote.db, epoch e_Qm9vb2"
    assert redact(line) == line


def test_every_record_is_redacted_whoever_logs_it(caplog: pytest.LogCaptureFixture) -> None:
    install_redaction()
    with caplog.at_level(logging.DEBUG, logger="websockets.server"):
        logging.getLogger("websockets.server").debug("< %s: %s", "cookie", "papote_session=ps_" + "x" * 40)
    assert caplog.records[-1].getMessage() == "< cookie: " + REDACTED
