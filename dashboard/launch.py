"""`rnn-lab`: start the app from an installed wheel, from any folder (`streamlit run` on the installed app.py).

Streamlit reads `.streamlit/config.toml` from the working folder, which an installed package does not
control; the wheel carries the repository's file (pyproject.toml maps it to dashboard.streamlit_config)
and `rnn-lab` passes its settings as flags. Flags typed after `rnn-lab` come later and win, e.g.
`rnn-lab --server.port 8600`.
"""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path

from streamlit.web import cli

APP = Path(__file__).with_name("app.py")


def config_flags(toml_text: str) -> list[str]:
    """`--section.option=value` for every setting of a Streamlit config.toml."""
    settings = tomllib.loads(toml_text)
    return [f"--{section}.{name}={str(value).lower() if isinstance(value, bool) else value}"
            for section, options in settings.items() for name, value in options.items()]


def main(argv: Sequence[str] | None = None) -> None:
    settings = files("dashboard.streamlit_config").joinpath("config.toml").read_text(encoding="utf-8")
    given = sys.argv[1:] if argv is None else list(argv)
    cli.main(["run", *config_flags(settings), str(APP), *given], prog_name="rnn-lab")  # exits with the server


if __name__ == "__main__":
    main()
