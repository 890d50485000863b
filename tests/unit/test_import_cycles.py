"""No import cycle in server/papote: every `import` counts, at module level, inside a function (a deferred
import only hides a cycle from the interpreter) or under `TYPE_CHECKING` (a type needed both ways is a
cycle in the design). Read with `ast`, so nothing is imported to check it.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "server" / "papote"

#: Edges still allowed, each with why. The check fails when one of them is gone, so the list only shrinks.
ALLOWED = {
    # The store's records live in store/__init__.py, which calls the rules; the rule that builds a
    # `reopened` event imports the record class inside the function. Records moving to a module of
    # their own ends it.
    ("papote.store.rules", "papote.store"): "records and the Store ABC share store/__init__.py",
}


def modules(package: Path) -> dict[str, Path]:
    out = {}
    for path in package.rglob("*.py"):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """module → the modules of papote it imports (a name imported from a package counts as the
    submodule when there is one by that name, else as the package)."""
    mods = modules(package)

    def known(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str | None] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets.update(known(alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*up, base] if base else up)
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    targets.add(full if full in mods else known(base))
        graph[name] = {t for t in targets if t is not None and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle_in_the_server() -> None:
    graph = import_graph()
    for source, target in ALLOWED:
        graph[source].discard(target)
    found = cycles(graph)
    described = [" ↔ ".join(c) + ": " + "; ".join(f"{a} → {b}" for a in c for b in sorted(graph[a]) if b in c)
                 for c in found]
    assert not found, "import cycles:\n" + "\n".join(described)


def test_every_allowed_edge_still_exists() -> None:
    graph = import_graph()
    gone = [edge for edge in ALLOWED if edge[1] not in graph[edge[0]]]
    assert not gone, f"no longer imported, remove from ALLOWED: {gone}"


def test_the_check_sees_a_deferred_and_a_type_only_cycle(tmp_path: Path) -> None:
    package = tmp_path / "papote"
    (package / "web").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "web" / "__init__.py").write_text("")
    (package / "node.py").write_text("from typing import TYPE_CHECKING\n"
                                     "if TYPE_CHECKING:\n    from .web.live import S\n")
    (package / "web" / "live.py").write_text("def f():\n    from papote import node\n")
    (package / "web" / "static.py").write_text("from papote.web import live\nimport papote.node\n")
    graph = import_graph(package)
    assert graph["papote.web.static"] == {"papote.web.live", "papote.node"}
    assert cycles(graph) == [["papote.node", "papote.web.live"]]
