"""JSON Schemas that are both the REST API's documentation and its validation.

Every endpoint declares its request body, its query parameters and its answers with the builders below.
`openapi_document` publishes those schemas as they are, and `validate` is the gate a request's body and
query pass before a handler uses them: what the document says is what the server checks, so the two
cannot drift.

`validate` knows the subset of JSON Schema (draft 2020-12, as OpenAPI 3.1 uses it) that the builders
emit; `check_supported` refuses any other keyword when the routes are built, so a schema cannot say
more than the server enforces. Patterns are ECMA-262 regexes as JSON Schema defines them, written with
explicit character classes (no `\\d`, `\\w`, `\\s`, whose meanings differ between engines); a final `$` is
the very end of the text as ECMA-262 reads it, not "before a final newline" as Python's `re` would.
tests/unit/test_api_schema.py checks this validator against an independent implementation.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from functools import cache
from typing import Any

from papote.errors import ErrorCode, PapoteError

Schema = dict[str, Any]

#: Keywords `validate` enforces. Annotations (`description`, `examples`, `default`, `title`) are free.
ENFORCED = frozenset({
    "type", "properties", "required", "additionalProperties", "items", "minItems", "maxItems",
    "minLength", "maxLength", "pattern", "enum", "const", "minimum", "maximum", "maxProperties",
    "propertyNames", "oneOf", "anyOf", "not",
})
ANNOTATIONS = frozenset({"description", "examples", "default", "title"})

#: The largest integer a JavaScript client holds exactly (seqs and timestamps stay below it).
MAX_SAFE_INT = 2**53


# -- builders ------------------------------------------------------------------------------------------


def string(min_len: int = 0, max_len: int = 1000, pattern: str | None = None, **extra: Any) -> Schema:
    out: Schema = {"type": "string", "minLength": min_len, "maxLength": max_len}
    if pattern is not None:
        out["pattern"] = pattern
    return {**out, **extra}


def integer(low: int, high: int, **extra: Any) -> Schema:
    return {"type": "integer", "minimum": low, "maximum": high, **extra}


def number(**extra: Any) -> Schema:
    return {"type": "number", **extra}


def boolean(**extra: Any) -> Schema:
    return {"type": "boolean", **extra}


def enum(*values: str, **extra: Any) -> Schema:
    return {"type": "string", "enum": list(values), **extra}


def array(items: Schema, max_items: int, min_items: int = 0, **extra: Any) -> Schema:
    return {"type": "array", "items": items, "minItems": min_items, "maxItems": max_items, **extra}


def obj(properties: dict[str, Schema], required: Iterable[str] = (), *, closed: bool = False,
        **extra: Any) -> Schema:
    """An object with these properties. Unknown properties are ignored unless `closed`."""
    out: Schema = {"type": "object", "properties": properties}
    names = list(required)
    if names:
        out["required"] = names
    if closed:
        out["additionalProperties"] = False
    return {**out, **extra}


def nullable(schema: Schema) -> Schema:
    """The same schema, or null."""
    kind = schema.get("type")
    if isinstance(kind, str):
        out = {**schema, "type": [kind, "null"]}
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
        return out
    return {"anyOf": [schema, {"type": "null"}]}


def any_json(**extra: Any) -> Schema:
    """Any JSON value (free-form data that is stored and shown as it was given)."""
    return {**extra}


# -- validation ----------------------------------------------------------------------------------------


class SchemaError(PapoteError):
    """A value that its schema refuses: `bad_field`, with the path of the field in the message."""

    code = ErrorCode.BAD_FIELD


@cache
def _regex(pattern: str) -> re.Pattern[str]:
    # ECMA-262's `$` (no multiline flag) is the end of the text; Python's also matches before a final
    # newline. `\Z` is the former in Python.
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "boolean": (bool,), "object": (dict,), "array": (list,), "null": (type(None),),
}


def _is_type(value: Any, kind: str) -> bool:
    if kind == "integer":
        if isinstance(value, bool):
            return False
        # 3.0 is the integer 3 in JSON; past 2**53 a float no longer says which integer it means.
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer()
                                          and abs(value) <= MAX_SAFE_INT)
    if kind == "number":
        return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)
    return isinstance(value, _JSON_TYPES[kind])


def _where(path: str) -> str:
    return f"field '{path}'" if path else "the body"


def _equal(a: Any, b: Any) -> bool:
    # JSON equality: true is not 1 (Python says it is).
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return bool(a == b)


def is_valid(schema: Schema, value: Any) -> bool:
    try:
        validate(schema, value)
    except SchemaError:
        return False
    return True


def validate(schema: Schema, value: Any, path: str = "") -> Any:
    """`value` checked against `schema`; returns it with integral floats (1.0) made integers.

    Raises SchemaError (bad_field) naming the first field that does not fit."""
    where = _where(path)
    if "anyOf" in schema or "oneOf" in schema:
        options = schema.get("anyOf") or schema["oneOf"]
        fits = [option for option in options if is_valid(option, value)]
        if not fits or ("oneOf" in schema and len(fits) > 1):
            raise SchemaError(f"{where} does not match any of the shapes it may take")
        value = validate(fits[0], value, path)
    if "not" in schema and is_valid(schema["not"], value):
        raise SchemaError(f"{where} has a value that is not allowed")
    kind = schema.get("type")
    if kind is not None:
        kinds = [kind] if isinstance(kind, str) else kind
        if not any(_is_type(value, k) for k in kinds):
            raise SchemaError(f"{where} must be {' or '.join(kinds)}")
        if isinstance(value, float) and "integer" in kinds and "number" not in kinds:
            value = int(value)
    if "const" in schema and not _equal(value, schema["const"]):
        raise SchemaError(f"{where} must be {schema['const']!r}")
    if "enum" in schema and not any(_equal(value, choice) for choice in schema["enum"]):
        shown = [c for c in schema["enum"] if c is not None]
        listing = ", ".join(map(str, shown)) if len(shown) <= 12 else "a documented value"
        raise SchemaError(f"{where} must be one of {listing}")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            raise SchemaError(f"{where} must have at least {schema['minLength']} characters")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            raise SchemaError(f"{where} must have at most {schema['maxLength']} characters")
        if "pattern" in schema and not _regex(schema["pattern"]).search(value):
            raise SchemaError(f"{where} has characters or a form that is not allowed")
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            raise SchemaError(f"{where} must be at least {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            raise SchemaError(f"{where} must be at most {schema['maximum']}")
    elif isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            raise SchemaError(f"{where} must have at least {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            raise SchemaError(f"{where} must have at most {schema['maxItems']} items")
        if "items" in schema:
            value = [validate(schema["items"], item, f"{path}[{i}]") for i, item in enumerate(value)]
    elif isinstance(value, dict):
        value = _validate_object(schema, value, path)
    return value


def _validate_object(schema: Schema, value: dict[str, Any], path: str) -> dict[str, Any]:
    where = _where(path)
    if "maxProperties" in schema and len(value) > schema["maxProperties"]:
        raise SchemaError(f"{where} must have at most {schema['maxProperties']} keys")
    for name in schema.get("required", ()):
        if name not in value:
            raise SchemaError(f"field '{path + '.' if path else ''}{name}' is required")
    properties: dict[str, Schema] = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    names = schema.get("propertyNames")
    out: dict[str, Any] = {}
    for key, item in value.items():
        inner = f"{path}.{key}" if path else key
        if names is not None:
            validate(names, key, inner)
        if key in properties:
            out[key] = validate(properties[key], item, inner)
        elif extra is False:
            raise SchemaError(f"field '{inner[:80]}' is not one this object takes")
        elif isinstance(extra, dict):
            out[key] = validate(extra, item, inner)
        else:
            out[key] = item
    return out


def check_supported(schema: Any, where: str = "schema") -> None:
    """Refuse a keyword that `validate` would not enforce (at import time, for every declared schema)."""
    if not isinstance(schema, dict):
        raise TypeError(f"{where} is not a schema")
    for key, value in schema.items():
        if key in ANNOTATIONS:
            continue
        if key not in ENFORCED:
            raise TypeError(f"{where} uses {key!r}, which the server's validator does not enforce")
        if key == "properties":
            for name, sub in value.items():
                check_supported(sub, f"{where}.{name}")
        elif key in ("items", "not", "propertyNames") or (key == "additionalProperties"
                                                          and isinstance(value, dict)):
            check_supported(value, f"{where}.{key}")
        elif key in ("anyOf", "oneOf"):
            for i, sub in enumerate(value):
                check_supported(sub, f"{where}.{key}[{i}]")
        elif key == "pattern":
            if re.search(r"\\[dDwWsS]", value) or "$" in value[:-1]:
                raise TypeError(f"{where}: patterns use explicit character classes and `$` only at the end")


def query_value(schema: Schema, raw: str, name: str) -> Any:
    """A query parameter's text read as its schema's type, then validated."""
    kinds = schema.get("type")
    kind = kinds if isinstance(kinds, str) else "string"
    value: Any = raw
    if kind == "integer":
        if not re.fullmatch(r"-?[0-9]{1,19}", raw):
            raise SchemaError(f"'{name}' must be an integer")
        value = int(raw)
    elif kind == "boolean":
        if raw not in ("true", "false"):
            raise SchemaError(f"'{name}' must be true or false")
        value = raw == "true"
    try:
        return validate(schema, value, name)
    except SchemaError as exc:
        raise SchemaError(str(exc).replace(f"field '{name}'", f"'{name}'")) from None
