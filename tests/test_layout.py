"""The architecture as the import graph shows it, read from the source with `ast` (function-level imports too):
no cycles in models/ or dashboard/, the engine never imports the UI, and only app.py knows the pages."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("models", "dashboard")
PAGES = {"dashboard.lab_page", "dashboard.map_page", "dashboard.bptt_page", "dashboard.watch_page"}


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, modules: set[str]) -> set[str]:
    """The project modules `path` imports, anywhere in the file; `from pkg import name` counts as pkg.name
    when that is a module, else as pkg."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                      for a in node.names}
    return {name for name in found if name.split(".")[0] in PACKAGES or name.split(".")[0] in ("streamlit", "altair")}


def graph() -> dict[str, set[str]]:
    paths = [p for package in PACKAGES for p in (ROOT / package).rglob("*.py")]
    modules = {_module(p) for p in paths}
    return {_module(p): imports(p, modules) for p in paths}


def cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle among the project's modules (as a path that returns to its start), or None."""
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = "open"
        for nxt in sorted(edges.get(node, ())):
            if nxt not in edges:
                continue
            if state.get(nxt) == "open":
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt, [*path, nxt])):
                return found
        state[node] = "done"
        return None

    for start in sorted(edges):
        if start not in state and (found := visit(start, [start])):
            return found
    return None


def test_the_cycle_finder_finds_a_lazy_import_cycle(tmp_path):
    edges = {"dashboard.a": {"dashboard.b"}, "dashboard.b": {"dashboard.c"}, "dashboard.c": {"dashboard.a"}}
    assert cycle(edges) == ["dashboard.a", "dashboard.b", "dashboard.c", "dashboard.a"]
    assert cycle({"dashboard.a": {"dashboard.b"}, "dashboard.b": set()}) is None
    late = tmp_path / "late.py"
    late.write_text("def page():\n    from dashboard import charts\n    from dashboard.live_view import status\n")
    modules = {"dashboard.charts", "dashboard.live_view"}
    assert imports(late, modules) == modules  # function-level imports count, `from pkg import module` too


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycles(package):
    edges = {name: {n for n in deps if n.startswith(package)} for name, deps in graph().items()
             if name.startswith(package)}
    assert cycle(edges) is None, " -> ".join(cycle(edges))


def test_the_engine_never_imports_streamlit_altair_or_the_dashboard():
    for name, deps in graph().items():
        if name.startswith("models"):
            assert not {d for d in deps if d.split(".")[0] in ("streamlit", "altair", "dashboard")}, name


def test_only_app_knows_the_pages():
    importers = {name: deps & PAGES for name, deps in graph().items() if deps & PAGES}
    assert set(importers) == {"dashboard.app"}, importers
    assert importers["dashboard.app"] == PAGES
