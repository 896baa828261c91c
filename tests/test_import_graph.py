"""The house has no back-stairs: the import graph of bridge/, handlers/ and schemas/ has no loops.

A loop between two rooms means neither can be read, tested or moved without the other; it is how
a provider-free layer (the ledger, the watch engine) ends up importing a provider. A room is each
sub-package and each top-level module of a top package (bridge/watch, bridge/nats,
bridge/commands.py, handlers/story, schemas/wire, ...). Every import counts: those under
TYPE_CHECKING and those inside functions too, since a lazy import is a loop that only waits for
its first call. Built with the stdlib `ast` over the source files, nothing is imported.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOP = ("bridge", "handlers", "schemas")
MAX_LINES = 500


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for top in TOP:
        for path in sorted((ROOT / top).rglob("*.py")):
            found[_module_name(path)] = path
    return found


def _resolve(name: str, known: Mapping[str, Path]) -> str | None:
    """The longest known module that `name` is or lies in (`a.b.c` for `from a.b.c import X`)."""
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def _imports(module: str, path: Path, known: Mapping[str, Path]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts)
                origin = f"{base}.{node.module}" if node.module else base
            else:
                origin = node.module or ""
            # `from pkg import mod` imports the submodule, `from mod import name` the module.
            names = [
                f"{origin}.{alias.name}" if f"{origin}.{alias.name}" in known else origin
                for alias in node.names
            ]
        else:
            continue
        for name in names:
            target = _resolve(name, known)
            if target is not None and target != module:
                targets.add(target)
    return targets


def _room(module: str) -> str:
    """`bridge.watch.engine` lives in room `bridge.watch`, `bridge.commands` is a room itself."""
    return ".".join(module.split(".")[:2])


def _find_cycle(graph: Mapping[str, Iterable[str]]) -> list[str] | None:
    """One cycle as a path [a, b, ..., a], or None; iterative DFS so deep graphs do not recurse."""
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(graph, white)
    for start in sorted(graph):
        if colour[start] != white:
            continue
        stack: list[tuple[str, list[str]]] = [(start, sorted(graph[start]))]
        colour[start] = grey
        while stack:
            node, pending = stack[-1]
            if not pending:
                colour[node] = black
                stack.pop()
                continue
            nxt = pending.pop(0)
            if colour.get(nxt, black) == grey:
                trail = [n for n, _ in stack]
                return [*trail[trail.index(nxt) :], nxt]
            if colour.get(nxt) == white:
                colour[nxt] = grey
                stack.append((nxt, sorted(graph[nxt])))
    return None


def _tangles(graph: Mapping[str, Iterable[str]]) -> list[set[str]]:
    """The strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[set[str]] = []
    counter = 0

    def strong(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component: set[str] = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(component)

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return components


def _all_cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """One cycle per strongly connected component that has one (so a failure lists every loop)."""
    cycles: list[list[str]] = []
    for component in _tangles(graph):
        sub = {v: [w for w in graph[v] if w in component] for v in component}
        cycle = _find_cycle(sub)
        assert cycle is not None
        cycles.append(cycle)
    return cycles


def _module_graph() -> dict[str, set[str]]:
    known = _modules()
    return {module: _imports(module, path, known) for module, path in known.items()}


def _describe(cycles: list[list[str]]) -> str:
    return "\n".join(" -> ".join(cycle) for cycle in cycles)


def test_no_loop_between_rooms() -> None:
    modules = _module_graph()
    rooms: dict[str, set[str]] = {}
    # Which import closes each room edge, so a failure names the line to change.
    witness: dict[tuple[str, str], str] = {}
    for module, targets in modules.items():
        here = _room(module)
        rooms.setdefault(here, set())
        for target in targets:
            there = _room(target)
            if there != here:
                rooms[here].add(there)
                witness.setdefault((here, there), f"{module} -> {target}")
    cycles = _all_cycles(rooms)
    tangles = [sorted(t) for t in _tangles(rooms)]
    detail = [
        " -> ".join(c) + "\n    " + "\n    ".join(witness[(a, b)] for a, b in itertools.pairwise(c))
        for c in cycles
    ]
    assert not cycles, (
        "import loops between rooms:\n" + "\n".join(detail) + f"\nrooms tangled: {tangles}"
    )


def test_no_loop_between_modules_of_a_room() -> None:
    modules = _module_graph()
    inside = {
        module: {t for t in targets if _room(t) == _room(module)}
        for module, targets in modules.items()
    }
    cycles = _all_cycles(inside)
    assert not cycles, "import loops inside a room:\n" + _describe(cycles)


def test_no_module_over_the_limit() -> None:
    long = {
        name: n
        for name, path in _modules().items()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_the_checker_sees_a_loop() -> None:
    # The test is only worth its green if it can go red: a small graph with a loop.
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _all_cycles({"a": {"b"}, "b": set()}) == []
