"""`python -m docs.screenshots` re-takes exactly the screenshots the docs show: none missing, none stale. No browser."""

import re
from pathlib import Path

from docs.screenshots import OUT, SCENES

ROOT = Path(__file__).resolve().parents[1]
# README links docs/screenshots/NAME.png; a page inside docs/ links screenshots/NAME.png.
IMAGE = re.compile(r"!\[[^\]]*\]\((?:docs/)?screenshots/([^)\s]+\.png)\)")
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def readme_images(text: str) -> set[str]:
    """The docs/screenshots/ images a Markdown text shows with ![...](...), from the root or from docs/."""
    return set(IMAGE.findall(text))


def test_the_parser_reads_image_lines_only():
    text = ("![a](docs/screenshots/x.png) ![b](docs/screenshots/y_1280x720.png) ![c](screenshots/w.png)\n"
            "see `docs/screenshots/` and z.png, [a link](screenshots/v.png) and ![d](other/u.png)")
    assert readme_images(text) == {"x.png", "y_1280x720.png", "w.png"}


def test_the_script_takes_every_screenshot_the_docs_show_and_no_other():
    shown = set().union(*(readme_images(doc.read_text()) for doc in DOCS))
    assert shown  # the docs have screenshots: an empty match would pass vacuously
    assert set(SCENES) == shown, f"missing scenes: {shown - set(SCENES)}; not in the docs: {set(SCENES) - shown}"
    assert all((OUT / name).is_file() for name in SCENES)


def test_the_projector_shots_are_taken_at_the_size_their_names_state():
    for name, (width, height, _) in SCENES.items():
        if size := re.search(r"_(\d+)x(\d+)\.png$", name):
            assert (width, height) == tuple(map(int, size.groups())), name
