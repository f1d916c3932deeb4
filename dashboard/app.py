"""Entry point: `streamlit run dashboard/app.py` (also Streamlit Community Cloud's main file; `rnn-lab` runs it)."""

from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run dashboard/app.py` (Community Cloud runs exactly that) puts dashboard/ on sys.path, not the
# folder that holds `models`. Added once: this file runs again on every rerun. Already there when the
# project is installed (site-packages) or started with `python -m streamlit` from the repository root.
_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import streamlit as st
import torch

from dashboard.bptt_page import render as bptt_page
from dashboard.lab_page import lab_page
from dashboard.map_page import render as map_page
from dashboard.runner import TORCH_THREADS
from models.trainer import warm_up


@st.cache_resource(show_spinner=False)
def warm() -> None:
    """Once per process: set torch threads and pay the first step's lazy imports before anyone waits."""
    torch.set_num_threads(TORCH_THREADS)
    warm_up()


def main() -> None:
    st.set_page_config(page_title="RNN Gradient Lab", page_icon="🔁", layout="wide")
    warm()
    if "watch" in st.query_params:  # a student's broadcast link: read-only, trains nothing
        from dashboard.viewer import watch_page

        watch_page(st.query_params["watch"])
        return
    pages = [
        st.Page(lab_page, title="Lab", icon="🧪", default=True),
        st.Page(bptt_page, title="BPTT by hand", icon="✍️", url_path="bptt"),
        st.Page(map_page, title="Trainability map", icon="🗺️", url_path="map"),
    ]
    st.navigation(pages).run()


main()
