"""Entry point: `streamlit run dashboard/app.py` (also Streamlit Community Cloud's main file)."""

from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run` puts dashboard/ on sys.path, not the repository root that holds `models`.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import streamlit as st
import torch

from dashboard.lab_page import lab_page
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
    pages = [st.Page(lab_page, title="Lab", icon="🧪", default=True)]
    st.navigation(pages).run()


main()
