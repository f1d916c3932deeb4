"""Memory bounded by design: no cache in models/ or dashboard/ grows with what users send.

Read from the source with `ast`: every cache decorator (functools.cache / lru_cache, st.cache_data /
st.cache_resource) states its bound, unless the function takes no arguments (one entry per scope) or it is
in ALLOWED with the reason its keys are finitely many validated names. Then the slope cache, whose key
any link sets, is driven with more distinct values than it may hold.
"""

import ast
from pathlib import Path

import pytest

import dashboard.theory_charts as theory_charts

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("models", "dashboard")
# "module:function" -> why its keys are finitely many validated values. Empty: every cache states its bound.
ALLOWED: dict[str, str] = {}


def _name(node: ast.expr) -> str:
    """`cache`, `functools.lru_cache`, `st.cache_data`: the dotted name, '' for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _name(node.value)
        return f"{base}.{node.attr}" if base else ""
    return ""


def _bound(call: ast.expr, keyword: str, positional: bool) -> bool:
    """Does the decorator call give `keyword` (or, for lru_cache, its first positional) a value other than None?"""
    if not isinstance(call, ast.Call):
        return False
    values = [k.value for k in call.keywords if k.arg == keyword] + (call.args[:1] if positional else [])
    return any(not (isinstance(v, ast.Constant) and v.value is None) for v in values)


def unbounded(decorator: ast.expr) -> str | None:
    """Why this decorator is an unbounded cache, or None (bounded, or not a cache)."""
    name = _name(decorator.func if isinstance(decorator, ast.Call) else decorator).split(".")[-1]
    if name == "cache":
        return "functools.cache never evicts"
    if name == "lru_cache" and not _bound(decorator, "maxsize", positional=True):
        return "lru_cache without an explicit maxsize (or maxsize=None)"
    if name in ("cache_data", "cache_resource") and not _bound(decorator, "max_entries", positional=False):
        return f"st.{name} without max_entries"
    return None


def _takes_arguments(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    a = fn.args
    return bool(a.posonlyargs or a.args or a.kwonlyargs or a.vararg or a.kwarg)


def violations(source: str, module: str) -> list[str]:
    """'module:function: reason' for every unbounded cache on a function that takes arguments."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and _takes_arguments(node):
            for decorator in node.decorator_list:
                if (reason := unbounded(decorator)) and f"{module}:{node.name}" not in ALLOWED:
                    found.append(f"{module}:{node.name}: {reason}")
        elif isinstance(node, ast.Call) and _name(node.func).split(".")[-1] in ("cache", "lru_cache") \
                and node.args and isinstance(node.args[0], ast.Name | ast.Lambda | ast.Attribute):
            found.append(f"{module}:line {node.lineno}: a cache wrapped around a function outside a decorator")
    return found


def _sources() -> dict[str, str]:
    paths = [p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))]
    return {".".join(p.relative_to(ROOT).with_suffix("").parts): p.read_text() for p in paths}


def test_no_cache_in_models_or_dashboard_is_unbounded():
    found = [v for module, source in _sources().items() for v in violations(source, module)]
    assert found == [], "unbounded caches (bound them, or add them to ALLOWED with a reason):\n" + "\n".join(found)


def test_every_allowed_entry_names_a_cached_function_that_exists():
    sources = _sources()
    for entry, reason in ALLOWED.items():
        module, function = entry.split(":")
        assert reason and f"def {function}(" in sources[module], entry


@pytest.mark.parametrize("decorator", [
    "functools.cache", "cache", "lru_cache", "functools.lru_cache()", "lru_cache(maxsize=None)", "lru_cache(None)",
    "st.cache_data", "st.cache_data(ttl=60)", "st.cache_resource(max_entries=None)",
    "st.cache_resource(scope='session', on_release=print)",
])
def test_the_scan_catches_every_unbounded_form(decorator):
    source = f"@{decorator}\ndef f(x):\n    return x\n"
    assert violations(source, "m") == [f"m:f: {unbounded(ast.parse(source).body[0].decorator_list[0])}"]


@pytest.mark.parametrize("decorator", [
    "lru_cache(maxsize=16)", "functools.lru_cache(8)", "st.cache_data(max_entries=64)",
    "st.cache_resource(max_entries=4, show_spinner=False)", "staticmethod",
])
def test_the_scan_passes_bounded_caches(decorator):
    assert violations(f"@{decorator}\ndef f(x):\n    return x\n", "m") == []


def test_a_cache_on_a_function_without_arguments_holds_one_entry_and_passes():
    assert violations("@st.cache_resource(scope='session')\ndef runner():\n    return 1\n", "m") == []
    assert violations("@cache\ndef f(*args):\n    return args\n", "m") == ["m:f: functools.cache never evicts"]


def test_a_cache_wrapped_outside_a_decorator_is_caught():
    assert violations("g = functools.cache(len)\n", "m") == ["m:line 1: a cache wrapped around a function outside "
                                                             "a decorator"]


class _Chart:
    """What activation_spec needs from a chart, without Altair's ~0.1 s per build."""

    def __init__(self, negative_slope: float) -> None:
        self.negative_slope = negative_slope

    def to_dict(self) -> dict:
        return {"negative_slope": self.negative_slope}


@pytest.fixture
def empty_slope_cache(monkeypatch):
    monkeypatch.setattr(theory_charts, "activation_chart", _Chart)
    theory_charts.activation_spec.cache_clear()
    yield theory_charts.activation_spec
    theory_charts.activation_spec.cache_clear()  # no stand-in spec outlives the test


def test_a_hundred_distinct_slopes_keep_at_most_the_bound(empty_slope_cache):
    spec = empty_slope_cache
    for i in range(100):
        assert spec(i / 100) == {"negative_slope": i / 100}
        assert spec.cache_info().currsize <= theory_charts.ACTIVATION_SPECS
    assert spec.cache_info().currsize == theory_charts.ACTIVATION_SPECS
    assert spec.cache_info().misses == 100


def test_the_recent_slopes_stay_cached(empty_slope_cache):
    spec = empty_slope_cache
    for i in range(40):
        spec(i / 100)
    spec(0.39)
    assert spec.cache_info().hits == 1
