"""The dashboard bench's chart ablation leaves out exactly the charts it names, where the Lab draws from."""

import dashboard.charts
import dashboard.live_view
from benchmarks.dashboard import ablations, without_charts
from models import RunConfig


def test_the_ablation_hook_drops_only_the_named_charts_from_the_lab(monkeypatch):
    for module in (dashboard.charts, dashboard.live_view):  # restored after the test
        monkeypatch.setattr(module, "live_charts", module.live_charts)
    exec(without_charts(("heatmap", "radius")), {})  # what the server runs before Streamlit starts
    names = [c.name for c in dashboard.live_view.live_charts("rnn")]
    assert names == ["loss", "profile", "weight_terms", "grad_norm"]
    assert [c.name for c in dashboard.charts.live_charts("lstm")] == [*names, "gates"]


def test_an_ablation_measures_all_charts_each_one_left_out_and_none():
    variants = ablations(RunConfig(model="lstm"))
    charts = ("loss", "profile", "weight_terms", "heatmap", "grad_norm", "radius", "gates")
    assert variants == [(), *((name,) for name in charts), charts]
