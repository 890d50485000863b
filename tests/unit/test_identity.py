from __future__ import annotations

import time

import pytest

from papote.errors import AuthError, ErrorCode
from papote.identity import sign_jwt, user_hash, verify_hash, verify_jwt

OLD, NEW = "old-secret", "new-secret"


def test_hmac_verifies_with_either_live_secret() -> None:
    assert verify_hash([NEW, OLD], "u-42", user_hash(OLD, "u-42")).user_id == "u-42"
    assert verify_hash([NEW, OLD], "u-42", user_hash(NEW, "u-42").upper()).user_id == "u-42"


def test_hmac_for_another_user_is_rejected() -> None:
    with pytest.raises(AuthError) as info:
        verify_hash([NEW], "u-43", user_hash(NEW, "u-42"))
    assert info.value.code is ErrorCode.IDENTITY_REJECTED


def test_jwt_claims() -> None:
    now = time.time()
    token = sign_jwt(OLD, {"sub": "u-1", "exp": now + 600, "name": "Ada", "email": "ada@x.test"})
    who = verify_jwt([NEW, OLD], token, now)
    assert (who.user_id, who.name, who.email) == ("u-1", "Ada", "ada@x.test")


@pytest.mark.parametrize(
    "token",
    [
        sign_jwt("wrong", {"sub": "u-1", "exp": time.time() + 600}),
        sign_jwt(NEW, {"sub": "u-1", "exp": time.time() - 3600}),
        sign_jwt(NEW, {"sub": "u-1"}),
        sign_jwt(NEW, {"exp": time.time() + 600}),
        sign_jwt(NEW, {"sub": "u-1", "exp": time.time() + 10 * 86400}),
        sign_jwt(NEW, {"sub": "u-1", "exp": time.time() + 7200, "nbf": time.time() + 3600}),
        sign_jwt(NEW, {"sub": "u-1", "exp": time.time() + 600, "nbf": "soon"}),
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1LTEiLCJleHAiOjk5OTk5OTk5OTl9.",
        "not.a.jwt",
        "nodots",
    ],
)
def test_bad_jwts_are_rejected(token: str) -> None:
    with pytest.raises(AuthError) as info:
        verify_jwt([NEW], token)
    assert info.value.code is ErrorCode.IDENTITY_REJECTED
