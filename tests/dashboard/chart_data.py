"""Read back the data that the page's charts draw (AppTest keeps it as Arrow IPC bytes)."""

import io

import pandas as pd
import pyarrow as pa
from streamlit.testing.v1 import AppTest


def chart_frames(app: AppTest) -> dict[str, pd.DataFrame]:
    """Every dataset of every chart on the page, by dataset name."""
    return {d.name: pa.ipc.open_stream(io.BytesIO(d.data.data)).read_all().to_pandas()
            for chart in app.get("vega_lite_chart") for d in chart.proto.datasets}


def chart_data(app: AppTest, name: str) -> pd.DataFrame:
    """The dataset `name` that a chart on the page draws."""
    return chart_frames(app)[name]
