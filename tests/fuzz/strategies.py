"""Hypothesis strategies shared by the fuzzers and the schema tests."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**63), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
ANY_JSON = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=12)


def near(schema: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """Values close to what `schema` accepts: mostly fitting, often just over an edge."""
    options: list[st.SearchStrategy[Any]] = [ANY_JSON]
    for key in ("anyOf", "oneOf"):
        options += [near(sub, depth + 1) for sub in schema.get(key, [])]
    if "enum" in schema:
        options.append(st.sampled_from(schema["enum"][:50]))
    if "const" in schema:
        options.append(st.just(schema["const"]))
    kinds = schema.get("type", [])
    kinds = [kinds] if isinstance(kinds, str) else kinds
    if "string" in kinds:
        low, high = schema.get("minLength", 0), min(schema.get("maxLength", 30), 300)
        lengths = st.sampled_from(sorted({low, max(low - 1, 0), high, high + 1}))
        options.append(lengths.flatmap(lambda n: st.text(min_size=n, max_size=n)))
        if "pattern" in schema:
            pattern = schema["pattern"]
            options.append(st.from_regex(pattern, fullmatch=False).filter(lambda s: len(s) < 400))
            options.append(st.from_regex(pattern, fullmatch=True).map(lambda s: s + "\n"))
    if "integer" in kinds or "number" in kinds:
        low, high = schema.get("minimum", -(2**53)), schema.get("maximum", 2**53)
        options.append(st.sampled_from([low, low - 1, high, high + 1, 0]))
        options.append(st.sampled_from([float(low), float(high), low + 0.5]))
        options.append(st.integers(low, high))
    if "boolean" in kinds:
        options += [st.booleans(), st.sampled_from([0, 1])]
    if "array" in kinds and depth < 4:
        items = near(schema.get("items", {}), depth + 1)
        top = min(schema.get("maxItems", 5), 12)
        options.append(st.lists(items, max_size=top + 1))
    if "object" in kinds and depth < 4:
        props = schema.get("properties", {})
        if props:
            options.append(st.fixed_dictionaries({}, optional={
                **{name: near(sub, depth + 1) for name, sub in props.items()},
                "x-unknown": ANY_JSON,
            }))
    return st.one_of(options)
