"""The dependency rules of the codebase, checked on the imports every module actually makes.

pipeline -> transforms -> schemas and trainer -> schemas; no module cycles; no apache_beam in
trainer, no torch in transforms; schemas imports only the standard library and pyarrow. Inside
transforms the stages go one way, read -> clean -> vocab -> pack, and shared depends on no
stage. Imports inside functions count: they run as soon as the function does.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("schemas", "transforms", "pipeline", "trainer")
# Which of our packages each package may import (itself included).
ALLOWED = {
    "schemas": {"schemas"},
    "transforms": {"transforms", "schemas"},
    "pipeline": {"pipeline", "transforms", "schemas"},
    "trainer": {"trainer", "schemas"},
}
FORBIDDEN_LIBS = {"trainer": {"apache_beam"}, "transforms": {"torch"}}
SCHEMAS_LIBS = {"pyarrow"}  # beyond the standard library
# transforms stages, in data-flow order: a stage imports only earlier stages and shared.
STAGES = ("read", "clean", "vocab", "pack")

Graph = Mapping[str, set[str]]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def discover() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def imported_names(path: Path, module: str) -> set[str]:
    """Dotted names imported anywhere in the file (functions and classes included)."""
    is_package = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                pkg = module.split(".")[: len(module.split(".")) - node.level + is_package]
                base = ".".join([*pkg, base] if base else pkg)
            if base == "__future__":
                continue
            out.add(base)
            out.update(f"{base}.{a.name}" for a in node.names)
    return out


def build_graph(modules: Mapping[str, Path]) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(module -> our modules it imports, module -> third-party top-level names it imports)."""
    graph: dict[str, set[str]] = {}
    libs: dict[str, set[str]] = {}
    for module, path in modules.items():
        names = imported_names(path, module)
        graph[module] = {n for n in names if n in modules and n != module}
        # ``from pkg import name`` adds "pkg" too: keep it only when name is not a module.
        graph[module] -= {
            n for n in graph[module] if any(m.startswith(n + ".") for m in graph[module])
        }
        libs[module] = {
            n.split(".")[0]
            for n in names
            if n.split(".")[0] not in PACKAGES and n.split(".")[0] not in sys.stdlib_module_names
        }
    return graph, libs


def find_cycles(graph: Graph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
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
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(cycles)


def _stage(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "transforms" and len(parts) > 2 else None


def rule_violations(graph: Graph, libs: Mapping[str, Iterable[str]]) -> list[str]:
    """Every import against the one-way rules, as "importer -> imported: rule"."""
    out = []
    for module, targets in sorted(graph.items()):
        pkg = module.split(".")[0]
        for target in sorted(targets):
            if target.split(".")[0] not in ALLOWED[pkg]:
                out.append(f"{module} -> {target}: {pkg} may import only {sorted(ALLOWED[pkg])}")
            src, dst = _stage(module), _stage(target)
            if src == "shared" and dst not in (None, "shared"):
                out.append(f"{module} -> {target}: transforms.shared imports no stage")
            if src in STAGES and dst in STAGES and STAGES.index(dst) > STAGES.index(src):
                out.append(f"{module} -> {target}: stages go {' -> '.join(STAGES)}")
        for lib in sorted(libs.get(module, ())):
            if lib in FORBIDDEN_LIBS.get(pkg, ()):
                out.append(f"{module} -> {lib}: no {lib} in {pkg}")
            if pkg == "schemas" and lib not in SCHEMAS_LIBS:
                out.append(f"{module} -> {lib}: schemas imports only pyarrow and the stdlib")
    return out


def test_no_import_cycles():
    graph, _ = build_graph(discover())
    assert find_cycles(graph) == []


def test_imports_follow_the_one_way_rules():
    graph, libs = build_graph(discover())
    assert rule_violations(graph, libs) == []


def test_the_walk_sees_real_imports_including_those_in_functions():
    modules = discover()
    graph, libs = build_graph(modules)
    assert {"schemas.document", "transforms.read.sources", "pipeline.clean"} <= set(graph)
    # pipeline.clean imports its transforms inside functions, to keep --help instant.
    assert "transforms.read.sources" in graph["pipeline.clean"]
    assert "apache_beam" in libs["transforms.read.sources"]
    assert "torch" in libs["trainer.model"]


def test_checks_catch_cycles_and_wrong_arrows():
    """The checks themselves, on a synthetic graph: each rule can fail."""
    graph = {
        "transforms.read.a": {"transforms.clean.b"},
        "transforms.clean.b": {"transforms.read.a", "schemas.s"},
        "transforms.shared.c": {"transforms.pack.d"},
        "transforms.pack.d": set(),
        "schemas.s": {"transforms.pack.d"},
        "trainer.t": {"pipeline.p"},
        "pipeline.p": set(),
    }
    assert find_cycles(graph) == [["transforms.clean.b", "transforms.read.a"]]
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []
    libs = {"trainer.t": {"apache_beam"}, "transforms.pack.d": {"torch"}, "schemas.s": {"numpy"}}
    found = rule_violations(graph, libs)
    assert len(found) == 7, found
    for wanted in (
        "transforms.read.a -> transforms.clean.b: stages go",
        "transforms.shared.c -> transforms.pack.d: transforms.shared imports no stage",
        "schemas.s -> transforms.pack.d: schemas may import only",
        "trainer.t -> pipeline.p: trainer may import only",
        "trainer.t -> apache_beam: no apache_beam in trainer",
        "transforms.pack.d -> torch: no torch in transforms",
        "schemas.s -> numpy: schemas imports only pyarrow",
    ):
        assert any(v.startswith(wanted) for v in found), wanted
