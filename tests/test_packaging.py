"""Shipping: Cloud's dependency file, what make installs, the wheel and its console scripts, app.py's sys.path."""

import configparser
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from email.parser import Parser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
import torch
from packaging.requirements import Requirement
from packaging.utils import parse_wheel_filename
from streamlit.runtime.caching import clear_session_resource_cache
from streamlit.testing.v1 import AppTest

from tests.browser.driver import chromium, free_port, open_lab, wait_healthy

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = {"rnn-lab": "dashboard.launch:main", "rnn-lab-train": "models.train:main",
           "rnn-lab-lessons": "models.lessons:main", "rnn-lab-sweep": "models.sweep:main"}
ROOT_REQUIREMENTS = {"requirements.txt", "requirements-dev.txt", "requirements-lint.txt", "requirements-ray.txt"}


def _lines(path: Path) -> list[str]:
    """Requirement lines without comments (pip's rule: '#' at the start or after whitespace)."""
    lines = (re.sub(r"(^|\s)#.*", "", line).strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def _requirements(path: Path) -> dict[str, Requirement]:
    return {(r := Requirement(line)).name: r for line in _lines(path)}


def test_cloud_file_pins_the_cpu_wheel_and_agrees_with_requirements_txt():
    cloud_file = ROOT / "dashboard" / "requirements.txt"
    local, cloud = _requirements(ROOT / "requirements.txt"), _requirements(cloud_file)
    assert cloud.keys() == local.keys()
    for name in local.keys() - {"torch"}:
        assert str(cloud[name]) == str(local[name]), name
    torch_req = cloud["torch"]
    # A direct link, not an index: no --index-url / --extra-index-url that could serve numpy & co.
    assert not any(line.startswith("-") for line in _lines(cloud_file))
    assert torch_req.url and torch_req.url.startswith("https://download.pytorch.org/whl/cpu/")
    name, version, _, tags = parse_wheel_filename(unquote(urlparse(torch_req.url).path.rsplit("/", 1)[1]))
    assert name == "torch" and version.local == "cpu"
    assert str(local["torch"].specifier) == f"=={version.public}"
    # Community Cloud: Linux x86_64, and the Python version README and docs/deploy.md tell the reader to choose.
    assert {(t.interpreter, t.abi) for t in tags} == {("cp311", "cp311")}
    assert all(t.platform.startswith("manylinux") and t.platform.endswith("x86_64") for t in tags)
    assert all("Python 3.11" in (ROOT / doc).read_text() for doc in ("README.md", "docs/deploy.md"))


@pytest.mark.parametrize(("target", "files"), [
    ("lint", {"requirements-lint.txt"}),
    ("run", {"requirements.txt"}),
    ("test", ROOT_REQUIREMENTS),
])
def test_make_installs_only_the_root_requirement_files(target, files, tmp_path):
    dry = subprocess.run(["make", "-n", target, f"VENV={tmp_path / 'venv'}"], cwd=ROOT, capture_output=True,
                         text=True, timeout=60, check=True).stdout
    assert set(re.findall(r"pip install -q -r (\S+)", dry)) == files
    assert "dashboard/requirements" not in dry + (ROOT / ".ci" / "run").read_text()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel `pip install .` builds, from a copy of the source (the build writes build/ and *.egg-info)."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".venv", ".git", "build", "*.egg-info", "__pycache__",
                                                                   ".pytest_cache", ".ruff_cache"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp / "dist"), str(source)],
                   check=True, capture_output=True, timeout=300)
    return next((tmp / "dist").glob("rnn_gradient_lab-*.whl"))


def test_wheel_holds_both_packages_the_app_and_its_settings_and_nothing_else(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        assert {n.split("/")[0] for n in names} == {"models", "dashboard", info}  # no tests/, benchmarks/, docs/
        sources = {p.relative_to(ROOT).as_posix() for package in ("models", "dashboard") for p in
                   (ROOT / package).glob("*.py")}
        assert sources <= names and "dashboard/app.py" in names
        settings = archive.read("dashboard/streamlit_config/config.toml").decode()
        assert settings == (ROOT / ".streamlit" / "config.toml").read_text()
        scripts = configparser.ConfigParser()
        scripts.read_string(archive.read(f"{info}/entry_points.txt").decode())
        metadata = Parser().parsestr(archive.read(f"{info}/METADATA").decode())
    assert dict(scripts["console_scripts"]) == SCRIPTS
    required = [Requirement(r) for r in metadata.get_all("Requires-Dist")]
    runtime = {r.name: str(r) for r in required if r.marker is None}
    assert runtime == {name: str(r) for name, r in _requirements(ROOT / "requirements.txt").items()}
    extras = {extra: {r.name for r in required if r.marker and r.marker.evaluate({"extra": extra})}
              for extra in metadata.get_all("Provides-Extra")}
    assert extras == {"dev": {*_requirements(ROOT / "requirements-dev.txt"), "ruff"}, "ray": {"ray"}}


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done


@pytest.mark.browser
def test_installed_wheel_runs_every_command_from_any_folder(wheel, tmp_path):
    venv, elsewhere = tmp_path / "venv", tmp_path / "elsewhere"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    bin_dir = venv / "bin"
    site = Path(_run([str(bin_dir / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     tmp_path).stdout.strip())
    # The dependencies come from this environment (after the venv's own site-packages); the project only from the wheel.
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([str(bin_dir / "python"), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], tmp_path)
    elsewhere.mkdir()
    (elsewhere / "models").mkdir()  # a user's own `models` in the working folder must not shadow ours
    (elsewhere / "models" / "__init__.py").write_text("raise ImportError('the wrong models package')\n")

    where = _run([str(bin_dir / "rnn-lab-train"), "--model", "lstm", "--seq-len", "6", "--hidden-size", "4",
                  "--steps", "3", "--save", "w.pt"], elsewhere)
    assert "saved the weights after 3 step(s)" in where.stderr
    assert set(torch.load(elsewhere / "w.pt", weights_only=True)["state_dict"]) >= {"rnn.weight_hh_l0", "head.bias"}
    sweep = _run([str(bin_dir / "rnn-lab-sweep"), "--gains", "1.0", "--seq-lens", "5", "--n-jobs", "1"], elsewhere)
    assert sweep.stdout.startswith("gain,seq_len,log_ratio")
    assert "KEY" in _run([str(bin_dir / "rnn-lab-lessons"), "--help"], elsewhere).stdout

    port = free_port()
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen([str(bin_dir / "rnn-lab"), "--server.address", "127.0.0.1", "--server.port", str(port)],
                              cwd=elsewhere, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", server)
        with chromium() as context:
            page = open_lab(context, f"http://127.0.0.1:{port}", "")
            assert page.get_by_test_id("stException").count() == 0
            # The wheel's config.toml applied: toolbarMode "viewer" hides Deploy even on localhost.
            assert page.get_by_test_id("stToolbar").count() == 1
            assert page.get_by_test_id("stAppDeployButton").count() == 0
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()


def test_app_puts_the_project_on_sys_path_once_whatever_the_reruns(monkeypatch):
    root = str(ROOT)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != root])  # as under `streamlit run dashboard/app.py`
    app = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=60)
    try:
        for _ in range(3):
            app.run()
            assert not app.exception
        assert sys.path.count(root) == 1
    finally:
        clear_session_resource_cache("test session id")
