"""Entry point: `streamlit run dashboard/app.py` (also Streamlit Community Cloud's main file; `rnn-lab` runs it).

The only module that knows the pages: the others ask for one by name (dashboard.state.go_to).
A page's module is imported when the page is first opened, so a first visit imports only what its
page needs, and the Lab draws its sidebar and lessons before it builds a run (whose first
optimizer imports torch._dynamo, ~1.5 s once per process): the browser renders them meanwhile.
"""

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


@st.cache_resource(show_spinner=False)
def torch_threads() -> None:
    """Once per process: the page's own torch work (the map's sweep, the theory overlay) on TORCH_THREADS."""
    import torch

    from dashboard.player import TORCH_THREADS

    torch.set_num_threads(TORCH_THREADS)


def lab() -> None:
    from dashboard.lab_page import lab_page

    lab_page()


def bptt() -> None:
    from dashboard.bptt_page import render

    render()


def trainability_map() -> None:
    from dashboard.map_page import render

    render()


def pages() -> dict[str, st.Page]:
    """The app's pages by the names `go_to` uses; the Lab is the default ("/").

    Material icons come with Streamlit's own icon font: emoji showed as empty boxes on a machine without an
    emoji font (Debian's Chromium, a classroom PC)."""
    return {
        "lab": st.Page(lab, title="Lab", icon=":material/science:", default=True),
        "bptt": st.Page(bptt, title="BPTT by hand", icon=":material/edit_note:", url_path="bptt"),
        "map": st.Page(trainability_map, title="Trainability map", icon=":material/map:", url_path="map"),
    }


def main() -> None:
    # An emoji icon is drawn in the page (an inline SVG); a :material: one is fetched from fonts.gstatic.com by every
    # browser, which a classroom network without internet cannot reach.
    st.set_page_config(page_title="RNN Gradient Lab", page_icon="🔄", layout="wide")
    if "watch" in st.query_params:  # a student's broadcast link: read-only, trains nothing
        from dashboard.watch_page import watch_page

        watch_page(st.query_params["watch"])
        return
    from dashboard.links import read_link
    from dashboard.state import requested_page

    by_name = pages()
    navigation = st.navigation(list(by_name.values()))
    if (request := requested_page()) is not None and request[0] in by_name:
        st.switch_page(by_name[request[0]], query_params=request[1])
    if navigation.url_path == by_name["lab"].url_path and (query := read_link()) is not None:
        st.switch_page(by_name["lab"], query_params=query)  # the link, corrected, before any widget reads it
    navigation.run()
    torch_threads()


if __name__ == "__main__":  # `streamlit run` executes this file as __main__; tests import main()
    main()
