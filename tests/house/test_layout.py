"""The house rules the folder tree keeps: no import cycles, files of one concept, doc links that resolve."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from conftest import REPO

PACKAGE = REPO / "performer"
MAX_LINES = 450  # a file past ~400 lines usually holds two concepts


def module_name(path: Path, root: Path = REPO) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, modules: set[str], root: Path = REPO) -> set[str]:
    """Every project module ``path`` imports, at the top or inside a function (lazy imports count too)."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            # `from a.b import c` imports a.b.c when c is a module, else a.b
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        for t in targets:
            while t and t not in modules:
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


def import_graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    modules = set(files)
    return {name: imports_of(path, modules) for name, path in files.items()}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
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
    return cycles


def ancestors(name: str) -> set[str]:
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


def test_the_package_has_no_import_cycles():
    # A package's __init__ re-exporting its own modules is not a cycle: importing a.b runs a first anyway.
    graph = {m: {t for t in ts if t not in ancestors(m)} for m, ts in import_graph().items()}
    assert find_cycles(graph) == []


def package_of(module: str) -> str:
    """The package a module belongs to: the first folder under ``performer/``; a top-level module is its own."""
    return ".".join(module.split(".")[:2])


def package_edges(graph: dict[str, set[str]]) -> dict[tuple[str, str], list[str]]:
    """The module graph collapsed to packages: each edge between two packages, with the imports that make it."""
    edges: dict[tuple[str, str], list[str]] = {}
    for m, ts in sorted(graph.items()):
        for t in sorted(ts):
            if t not in ancestors(m) and package_of(m) != package_of(t):
                edges.setdefault((package_of(m), package_of(t)), []).append(f"{m} -> {t}")
    return edges


def package_cycles(graph: dict[str, set[str]]) -> list[str]:
    """Every loop between packages, with the imports between its packages (what to move to break it)."""
    edges = package_edges(graph)
    packages: dict[str, set[str]] = {}
    for a, b in edges:
        packages.setdefault(a, set()).add(b)
    loops = []
    for loop in find_cycles(packages):
        imports = [i for (a, b), made_by in edges.items() if a in loop and b in loop for i in made_by]
        loops.append(f"{' <-> '.join(loop)}: {'; '.join(imports)}")
    return loops


def test_the_packages_have_no_import_cycles():
    # One-way stages: a loop between packages ties them together although no module loop does. What two stages
    # share goes below both (performer/sound/, a top-level helper module).
    assert package_cycles(import_graph()) == []


def imported_by(roots: list[str], graph: dict[str, set[str]]) -> set[str]:
    """Every module importing ``roots`` may import (lazy imports included), with the packages it runs on the way."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo += [*graph.get(m, ()), *(a for a in ancestors(m) if a in graph)]
    return seen


def test_the_live_server_imports_nothing_offline():
    # `performer serve` loads models and checkpoints; making and judging them (performer/training/) stays offline.
    graph = import_graph()
    live = imported_by(["performer.cli.serve", "performer.engine"], graph)
    assert {"performer.classifier.inference", "performer.sound.features"} <= live
    assert sorted(m for m in live if package_of(m) == "performer.training") == []
    assert imported_by(["a"], {"a.b": set(), "a": {"c"}, "c": {"a.b"}, "d": {"a"}}) == {"a", "a.b", "c"}


def test_the_package_cycle_finder_finds_a_loop_no_module_loop_makes():
    graph = {"performer.a.x": {"performer.b.y"}, "performer.b.z": {"performer.a.w"}, "performer.a.w": set(),
             "performer.b.y": {"performer.latest"}, "performer.latest": set(), "performer.a": {"performer.a.x"}}
    assert find_cycles(graph) == []
    assert package_cycles(graph) == ["performer.a <-> performer.b: performer.a.x -> performer.b.y; "
                                     "performer.b.z -> performer.a.w"]
    del graph["performer.b.z"]
    assert package_cycles(graph) == []
    assert package_of("performer.httpd") == "performer.httpd" and package_of("performer.a.x.y") == "performer.a"


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_lazy_imports_count_as_edges(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("def f():\n    from performer.audio import capture\n")
    assert imports_of(f, {"performer.audio", "performer.audio.capture"}, tmp_path) == {"performer.audio.capture"}


def test_every_module_holds_one_concept():
    long = {str(p.relative_to(REPO)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}, f"split these into one concept per file (over {MAX_LINES} lines): {long}"


LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def test_every_relative_link_in_the_docs_resolves():
    docs = [REPO / "README.md", REPO / "CONTRIBUTING.md", *REPO.glob("docs/**/*.md"), *REPO.glob("models/*.md"),
            *REPO.glob("benchmarks/*.md"), *REPO.glob("patches/**/*.md")]
    broken = []
    for doc in docs:
        for target in LINK.findall(doc.read_text()):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            path = (doc.parent / target.split("#", 1)[0]).resolve()
            if not path.exists():
                broken.append(f"{doc.relative_to(REPO)} -> {target}")
    assert broken == []


def test_code_paths_named_in_the_docs_exist():
    """`performer/...` paths written in backticks in the docs name files or folders that exist."""
    docs = [REPO / "README.md", REPO / "CONTRIBUTING.md", *REPO.glob("docs/*.md")]
    missing = []
    for doc in docs:
        for path in re.findall(r"`(performer/[\w/.]*)`", doc.read_text()):
            if not (REPO / path.rstrip("/")).exists():
                missing.append(f"{doc.relative_to(REPO)}: {path}")
    assert missing == []
