"""The two helpers that replaced private Streamlit modules: Arrow bytes for the watch page, the LAN address."""

import ipaddress

import pyarrow as pa
import pytest

from dashboard import presenter
from dashboard.charts import LIVE_CHARTS, vega_spec
from dashboard.watch_page import arrow_bytes
from tests.dashboard.test_charts import SNAPSHOTS


def test_arrow_bytes_are_an_ipc_stream_that_reads_back_as_the_same_table():
    table = pa.table({"step": pa.array([1, 2, 3]), "loss": pa.array([0.5, None, 0.25])})
    with pa.ipc.open_stream(arrow_bytes(table)) as reader:  # the stream format, as Streamlit's frontend reads it
        assert reader.read_all().equals(table)


@pytest.mark.parametrize("model", sorted(SNAPSHOTS))
def test_every_live_chart_dataset_encodes_and_reads_back(model):
    snap = SNAPSHOTS[model]()
    for chart in LIVE_CHARTS:
        for name, table in vega_spec(chart.name, snap, False, False)["datasets"].items():
            assert pa.ipc.open_stream(arrow_bytes(table)).read_all().equals(table), (chart.name, name)


class _Socket:
    """A UDP socket that records where it was pointed; `route` None: no network (connect fails)."""

    def __init__(self, route: str | None):
        self.route, self.target = route, None

    def __call__(self, *_):
        return self

    def __enter__(self):
        return self

    def __exit__(self, *_):
        return False

    def connect(self, target):
        self.target = target
        if self.route is None:
            raise OSError("Network is unreachable")

    def getsockname(self):
        return (self.route, 40000)


def test_lan_address_is_the_source_address_the_kernel_picks_for_an_unroutable_destination(monkeypatch):
    fake = _Socket("10.4.0.17")
    monkeypatch.setattr(presenter.socket, "socket", fake)
    assert presenter.lan_address() == "10.4.0.17"
    # A documentation address (RFC 5737): never a real host, so even a stray packet would reach nobody.
    assert ipaddress.ip_address(fake.target[0]) in ipaddress.ip_network("198.51.100.0/24")


def test_lan_address_is_none_without_a_route(monkeypatch):
    monkeypatch.setattr(presenter.socket, "socket", _Socket(None))
    assert presenter.lan_address() is None


def test_lan_address_on_this_machine_is_an_ipv4_address_or_none():
    found = presenter.lan_address()
    assert found is None or ipaddress.ip_address(found).version == 4


@pytest.mark.parametrize("lan", [None, "127.0.0.1"])
def test_no_lan_address_tells_the_teacher_to_join_a_network(lan):
    assert "no address on a network" in presenter.reach("http://localhost:8501/", None, lan).hint
