"""The REST API's request schemas: what the server's validator decides is what JSON Schema decides.

`papote.web.schema.validate` is the gate of every body and query parameter, and the same schemas are
the OpenAPI document. Here it is checked against an independent JSON Schema implementation (the Rust
`jsonschema_rs` that the API conformance run also uses) on values drawn near each schema's edges:
lengths at their bounds, patterns with a trailing newline, integers as floats, wrong types, unknown
keys. Any disagreement is either a document that says more than the server checks, or less.
"""

from __future__ import annotations

import math
from typing import Any

import jsonschema_rs
import pytest
from hypothesis import HealthCheck, given, settings

from papote.config import Config
from papote.errors import PapoteError
from papote.web import api_schemas as shapes
from papote.web.api import all_endpoints
from papote.web.schema import SchemaError, check_supported, is_valid, query_value, validate
from tests.fuzz.strategies import near

#: Values per schema: enough to reach each edge of ~70 schemas in a few seconds each.
EXAMPLES = 60

def request_schemas() -> list[tuple[str, dict[str, Any]]]:
    config = Config()
    out = []
    for ep in all_endpoints():
        body = ep.body_schema(config)
        if body is not None:
            out.append((f"{ep.method} {ep.path} body", body))
        out += [(f"{ep.method} {ep.path} ?{name}", schema) for name, schema in ep.query.items()]
    out += [("settings", shapes.SETTINGS), ("rule", shapes.RULE), ("hours", shapes.HOURS)]
    return out


SCHEMAS = request_schemas()


@pytest.mark.parametrize(("where", "schema"), SCHEMAS, ids=[w for w, _ in SCHEMAS])
def test_every_request_schema_says_only_what_the_server_enforces(where: str, schema: dict[str, Any]) -> None:
    check_supported(schema, where)


def test_an_unenforced_keyword_is_refused() -> None:
    with pytest.raises(TypeError):
        check_supported({"type": "string", "format": "email"})
    with pytest.raises(TypeError):
        check_supported({"type": "object", "properties": {"a": {"type": "string", "pattern": "^\\d+$"}}})


@pytest.mark.parametrize(("where", "schema"), SCHEMAS, ids=[w for w, _ in SCHEMAS])
def test_the_server_and_json_schema_agree(where: str, schema: dict[str, Any]) -> None:
    reference = jsonschema_rs.validator_for(schema)

    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(near(schema))
    def agree(value: Any) -> None:
        ours = is_valid(schema, value)
        assert ours == reference.is_valid(value), f"{where}: server says {ours} for {value!r}"
        if ours:
            validate(schema, value)  # returns, does not raise

    agree()


def test_integral_floats_become_integers() -> None:
    assert validate(shapes.UPDATE_ME, {"capacity": 3.0}) == {"capacity": 3}
    assert isinstance(validate(shapes.UPDATE_ME, {"capacity": 3.0})["capacity"], int)


def test_messages_name_the_field() -> None:
    with pytest.raises(SchemaError, match=r"field 'settings\.color'"):
        validate(shapes.UPDATE_SITE, {"settings": {"color": "red"}})
    with pytest.raises(SchemaError, match="field 'email' is required"):
        validate(shapes.LOGIN, {"password": "x"})
    with pytest.raises(SchemaError, match="at most 254"):
        validate(shapes.LOGIN, {"email": "e" * 255, "password": "x"})


def test_a_trailing_newline_does_not_pass_an_anchored_pattern() -> None:
    assert not is_valid(shapes.CLIENT_MSG_ID, "abcdefgh\n")
    assert is_valid(shapes.CLIENT_MSG_ID, "abcdefgh")


@pytest.mark.parametrize(("raw", "ok"), [("10", True), ("-1", False), ("1.5", False), ("1e3", False),
                                         ("", False), (" 5", False), ("9" * 40, False)])
def test_integer_query_parameters(raw: str, ok: bool) -> None:
    schema = shapes.MESSAGES_QUERY["limit"]
    if ok:
        assert query_value(schema, raw, "limit") == int(raw)
    else:
        with pytest.raises(PapoteError):
            query_value(schema, raw, "limit")


def test_boolean_query_parameters() -> None:
    schema = shapes.LIST_CONVERSATIONS_QUERY["unassigned"]
    assert query_value(schema, "true", "unassigned") is True
    assert query_value(schema, "false", "unassigned") is False
    with pytest.raises(PapoteError):
        query_value(schema, "1", "unassigned")


def test_numbers_are_finite() -> None:
    assert not is_valid({"type": "number"}, math.inf)
