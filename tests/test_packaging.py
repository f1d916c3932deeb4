"""Shipping: Cloud's dependency file, what make installs, the wheel and its console scripts, app.py's sys.path,
and only Streamlit's public API in the shipped code."""

import ast
import configparser
import json
import os
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
from packaging.version import Version
from streamlit import __version__ as st_version
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


CLOUD_PYTHONS = ("3.11", "3.12", "3.13", "3.14")  # what Community Cloud offers for new apps and upgrades to
CLOUD_MACHINE = {"sys_platform": "linux", "platform_machine": "x86_64", "implementation_name": "cpython"}


def _pins() -> dict[str, Version]:
    """constraints.txt: the exact version of each package make and CI install."""
    pins = _requirements(ROOT / "constraints.txt")
    assert all(len(r.specifier) == 1 and next(iter(r.specifier)).operator == "==" for r in pins.values())
    return {name: Version(next(iter(r.specifier)).version) for name, r in pins.items()}


def test_constraints_pin_versions_inside_the_ranges_pip_install_declares():
    ranges, pins = _requirements(ROOT / "requirements.txt"), _pins()
    assert {"torch", "streamlit"} <= pins.keys() <= ranges.keys()
    for name, version in pins.items():
        assert ranges[name].specifier.contains(version), name
        assert "==" not in str(ranges[name].specifier), name  # a range, so an installed torch is kept


def _wheel_of(requirement: Requirement) -> tuple[Version, set[str], set[str], str]:
    """(version, interpreters, platforms, sha256) of a direct wheel link `name @ url#sha256=...`."""
    url = urlparse(requirement.url)
    _, version, _, tags = parse_wheel_filename(unquote(url.path.rsplit("/", 1)[1]))
    digest = re.fullmatch(r"sha256=([0-9a-f]{64})", url.fragment)
    assert digest, f"no sha256 on {requirement.url}"
    return version, {t.interpreter for t in tags}, {t.platform for t in tags}, digest.group(1)


def test_cloud_file_has_one_hashed_cpu_torch_wheel_per_python_and_the_pinned_versions():
    cloud_file = ROOT / "dashboard" / "requirements.txt"
    cloud = [Requirement(line) for line in _lines(cloud_file)]
    ranges, pins = _requirements(ROOT / "requirements.txt"), _pins()
    assert {r.name for r in cloud} == ranges.keys()
    # A direct link, not an index: no --index-url / --extra-index-url that could serve numpy & co.
    assert not any(line.startswith("-") for line in _lines(cloud_file))
    for r in cloud:
        if r.name == "torch":
            continue
        assert str(r) == (f"{r.name}=={pins[r.name]}" if r.name in pins else str(ranges[r.name])), r.name
    torch_lines = [r for r in cloud if r.name == "torch"]
    for python in CLOUD_PYTHONS:
        chosen = [r for r in torch_lines if r.marker and r.marker.evaluate(CLOUD_MACHINE | {"python_version": python})]
        assert len(chosen) == 1, python
        version, interpreters, platforms, _ = _wheel_of(chosen[0])
        assert chosen[0].url.startswith("https://download.pytorch.org/whl/cpu/")
        assert version.local == "cpu" and Version(version.public) == pins["torch"], python
        assert interpreters == {"cp" + python.replace(".", "")}
        assert all(p.startswith("manylinux") and p.endswith("x86_64") for p in platforms)
    assert len(torch_lines) == len(CLOUD_PYTHONS) and len({_wheel_of(r)[3] for r in torch_lines}) == len(torch_lines)


@pytest.mark.parametrize(("target", "files"), [
    ("lint", {"requirements-lint.txt"}),
    ("run", {"requirements.txt"}),
    ("test", ROOT_REQUIREMENTS),
])
def test_make_installs_only_the_root_requirement_files_with_the_pins(target, files, tmp_path):
    dry = subprocess.run(["make", "-n", target, f"VENV={tmp_path / 'venv'}"], cwd=ROOT, capture_output=True,
                         text=True, timeout=60, check=True).stdout
    installs = re.findall(r"pip install -q (.*)", dry)
    assert {f for line in installs for f in re.findall(r"-r (\S+)", line)} == files
    # Everything that can pull torch or streamlit in (the runtime, dev, ray) installs under the pins.
    for line in installs:
        assert ("-c constraints.txt" in line) is ("requirements-lint.txt" not in line), line
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


def _fake_distribution(site: Path, name: str, version: str) -> None:
    """Metadata alone: pip takes `name` `version` as installed (it shadows the real one further down sys.path)."""
    info = site / f"{name}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "INSTALLER").write_text("pip\n")


@pytest.mark.parametrize("installed", [{}, {"torch": "2.5.1", "streamlit": "1.60.0"}],
                         ids=["the pinned torch", "a user's older torch and streamlit"])
def test_pip_install_of_the_wheel_keeps_the_installed_torch_and_streamlit(wheel, installed, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp_path)
                .stdout.strip())
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")  # this env's torch & co.
    for name, version in installed.items():
        _fake_distribution(site, name, version)
    seen = _run([python, "-c", "from importlib.metadata import version; print(version('torch'), version('streamlit'))"],
                tmp_path).stdout.split()
    assert seen == [installed.get("torch", torch.__version__), installed.get("streamlit", st_version)]
    # Offline and without this machine's pip settings: only the wheel's folder, nothing to download.
    done = subprocess.run([sys.executable, "-m", "pip", "--python", python, "install", "--dry-run", "-q", "--report",
                           "-", "--no-index", "--find-links", str(wheel.parent), str(wheel)], capture_output=True,
                          text=True, timeout=120, env=os.environ | {"PIP_CONFIG_FILE": os.devnull})
    assert done.returncode == 0, done.stderr
    assert [item["metadata"]["name"] for item in json.loads(done.stdout)["install"]] == ["rnn-gradient-lab"]


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


# Streamlit's public modules the shipped code may import: the `st` namespace, its components API, and the CLI
# module that Streamlit's own `streamlit` console script runs (rnn-lab runs the installed app.py through it).
# Anything else (streamlit.dataframe_util, streamlit.net_util, streamlit.runtime...) can vanish in a release.
PUBLIC_STREAMLIT = {"streamlit.components.v1", "streamlit.web.cli"}


def _streamlit_imports(tree: ast.AST) -> list[str]:
    """Each way `tree` imports from Streamlit other than `import streamlit as st` and the public modules."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [f"import {a.name} as {a.asname}" for a in node.names if a.name.split(".")[0] == "streamlit"
                      and (a.name, a.asname) != ("streamlit", "st") and a.name not in PUBLIC_STREAMLIT]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "streamlit":
            if node.module not in PUBLIC_STREAMLIT and any(f"{node.module}.{a.name}" not in PUBLIC_STREAMLIT
                                                           for a in node.names):
                found.append(f"from {node.module} import {', '.join(a.name for a in node.names)}")
    return found


def test_shipped_code_imports_only_streamlits_public_api():
    private = {path.relative_to(ROOT).as_posix(): found for package in ("dashboard", "models")
               for path in sorted((ROOT / package).rglob("*.py"))
               if (found := _streamlit_imports(ast.parse(path.read_text(), str(path))))}
    assert private == {}


@pytest.mark.parametrize(("source", "allowed"), [
    ("import streamlit as st", True),
    ("import streamlit.components.v1 as components", True),
    ("from streamlit.web import cli", True),
    ("from streamlit.components.v1 import html", True),
    ("import streamlit", False),
    ("from streamlit import net_util", False),
    ("from streamlit.dataframe_util import convert_anything_to_arrow_bytes", False),
    ("from streamlit.web import server", False),
    ("import streamlit.runtime.scriptrunner as sr", False),
])
def test_the_import_scan_tells_public_from_private(source, allowed):
    assert (_streamlit_imports(ast.parse(source)) == []) is allowed
