"""Drive the real app: a `streamlit run` server on a free port, Debian's Chromium through Playwright, and the
Lab's controls. The browser tests and `python -m benchmarks.dashboard` use these."""

from __future__ import annotations

import contextlib
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ROOM_CODE = re.compile(r"^\s*[A-Z2-9]{8}\s*$")  # a room code as the room badge shows it (dashboard.broadcast)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def held_steps(gate: Path, only: str = "True") -> str:
    """`serve(before=...)` code under which training step n starts only once the file `gate/n` exists: a test
    decides when a step in flight ends, so what the page shows while a step runs does not depend on the step's
    speed (a large run's first step takes seconds on an idle server and many times longer beside other load).
    `only`: a Python expression on the Trainer `self` choosing the runs held (the others step freely)."""
    return f"""
import pathlib, time
import models.trainer

_real_step = models.trainer.Trainer.step


def _held_step(self):
    while ({only}) and not (pathlib.Path({str(gate)!r}) / str(self.step_count + 1)).exists():
        time.sleep(0.02)
    return _real_step(self)


models.trainer.Trainer.step = _held_step
"""


def slow_room_badge(seconds: float) -> str:
    """`serve(before=...)` code under which every page run draws the room badge `seconds` late: a press that comes
    within `seconds` of the one before it cuts that press's run short before it drew the badge (Streamlit's fast
    reruns), as a busy server does by chance."""
    return f"""
import time
import dashboard.room_badge

_real_badge = dashboard.room_badge.room_badge


def _slow_badge(*args, **kwargs):
    time.sleep({seconds})
    return _real_badge(*args, **kwargs)


dashboard.room_badge.room_badge = _slow_badge
"""


def writes_pid(path: Path) -> str:
    """`serve(before=...)` code that writes the server process's id to `path`: a drill signals that process."""
    return f"import os, pathlib\npathlib.Path({str(path)!r}).write_text(str(os.getpid()))\n"


def failing_step(step: int) -> str:
    """`serve(before=...)` code under which every run's training step `step` raises RuntimeError("injected fault")."""
    return f"""
import models.trainer

_real_step = models.trainer.Trainer.step


def _failing_step(self):
    if self.step_count == {step - 1}:
        raise RuntimeError("injected fault")
    return _real_step(self)


models.trainer.Trainer.step = _failing_step
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 60.0, log: Path | None = None) -> None:
    """Return once the Streamlit server at `url` answers its health check; raise if `proc` dies or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start:\n{log.read_text() if log else ''}") from None
            time.sleep(0.2)


@contextlib.contextmanager
def serve(*options: str, before: str = "", timeout: float = 60.0, root: Path = ROOT) -> Iterator[tuple[str, Path]]:
    """`streamlit run dashboard/app.py [options]` on 127.0.0.1; yields (base url, path of the server's log).

    `before` is Python the server process runs before Streamlit starts (a test's fault injection); `root` is the
    checkout it serves (a benchmark's A/B against an older commit).
    """
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="rnnlab-server-", suffix=".log")[1])
    args = ["streamlit", "run", "dashboard/app.py", "--server.address", "127.0.0.1", "--server.port", str(port),
            "--server.headless", "true", "--browser.gatherUsageStats", "false", *options]
    cmd = [sys.executable, "-m", *args]
    if before:  # the same command, in a process that ran `before` first
        launch = f"import sys\nfrom streamlit.web.cli import main\nsys.argv = {args!r}\nmain()"
        cmd = [sys.executable, "-c", f"{before}\n{launch}"]
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=root, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, timeout, log)
        yield url, log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def chromium(width: int = 1600, height: int = 1000) -> Iterator[object]:
    """A Playwright browser context on the system's Chromium (Debian's package: no Playwright browser download)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser.new_context(viewport={"width": width, "height": height})
        finally:
            browser.close()


@contextlib.contextmanager
def kept_on_failure(log: Path, folder: Path, trail: list[str] | None = None, **pages: object) -> Iterator[None]:
    """A wait or assertion that fails inside saves each page's screenshot to `folder` and fails with the server log's
    tail (and `trail`, a page's connection_trail): a failure that only happens under load then shows what each page
    showed and what the server did."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        yield
    except (AssertionError, PlaywrightTimeout) as failure:
        for name, page in pages.items():
            page.screenshot(path=str(folder / f"{name}.png"))
        tail = log.read_text()[-4000:]
        seen = "" if trail is None else "\nthe page's connection:\n" + "\n".join(trail[-80:])
        raise AssertionError(f"{failure}\nscreenshots in {folder}; server log tail:\n{tail}{seen}") from failure


# An init script: once a test sets window.lateFlushMs, each zero-delay timeout of the page waits that long. Streamlit's
# frontend sends a press in such a timeout, so a busy browser's late flush is made certain (dashboard/presses.py).
LATE_FLUSH = """(() => { const plain = window.setTimeout;
  window.setTimeout = (f, d, ...a) => plain(f, !d && window.lateFlushMs ? window.lateFlushMs : d, ...a); })()"""


def connection_trail(page: object) -> list[str]:
    """A list that receives, as they happen (seconds since this call): the page's websockets opening and closing,
    every rerun request it sends (and the buttons it presses), every run the server starts and ends for it, its
    navigations, its failed requests, and its console's warnings and errors."""
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    start, trail, last = time.monotonic(), [], {"text": "", "count": 0, "at": 0.0}

    def note(text: str) -> None:
        # A line that repeats (a fragment's timer failing every 0.25 s while disconnected) is counted, not repeated:
        # a failure prints the trail's tail, which must still reach back to the cut.
        at = time.monotonic() - start
        if text == last["text"]:
            last["count"] += 1
            trail[-1] = f"{last['at']:7.2f} {text} (x{last['count']}, the last at {at:.2f})"
            return
        last.update(text=text, count=1, at=at)
        trail.append(f"{at:7.2f} {text}")

    def sent(frame: bytes | str) -> None:
        msg = BackMsg.FromString(frame if isinstance(frame, bytes) else frame.encode())
        if msg.WhichOneof("type") == "rerun_script":
            # A widget's id ends in its key; a press is a trigger value that is set.
            pressed = [w.id.split("-", 2)[-1] for w in msg.rerun_script.widget_states.widgets
                       if w.WhichOneof("value") == "trigger_value" and w.trigger_value]
            note(f"-> rerun {'fragment' if msg.rerun_script.fragment_id else 'page'}"
                 f"{' (auto)' if msg.rerun_script.is_auto_rerun else ''}"
                 f"{' pressing ' + ', '.join(pressed) if pressed else ''}")

    def received(frame: bytes | str) -> None:
        kind = ForwardMsg.FromString(frame if isinstance(frame, bytes) else frame.encode()).WhichOneof("type")
        if kind in ("new_session", "script_finished"):
            note(f"<- {kind}")

    def opened(ws: object) -> None:
        note("websocket open")
        ws.on("close", lambda _: note("websocket closed"))
        ws.on("framesent", sent)
        ws.on("framereceived", received)

    page.on("websocket", opened)
    # A cut breaks more than the websocket: the requests loading the page's own code fail with it.
    page.on("framenavigated", lambda frame: frame.parent_frame is None and note(f"navigated to {frame.url}"))
    page.on("requestfailed", lambda request: note(f"request failed: {request.url} ({request.failure})"))
    page.on("console", lambda m: m.type in ("warning", "error") and "Infinite extent" not in m.text
            and note(f"console {m.type}: {m.text[:160]}"))
    return trail


def button(page: object, label: str) -> object:
    """The Lab's control button `label` ("Train", "Pause", "Resume", "Step", "Reset"), by its exact accessible name
    (the icon is not part of it; a keyboard shortcut's badge adds "Shortcut Space" to it): a text filter would also
    match "Step" inside "Step by step" and the like."""
    return page.get_by_role("button", name=re.compile(rf"^{re.escape(label)}( Shortcut \S+)?$"))


def primary_is(label: str) -> str:
    """A JavaScript expression: the primary button's label is `label` (its own text: the button also holds its
    icon's name and its shortcut's badge, "Space")."""
    return ("[...document.querySelectorAll('[data-testid=stBaseButton-primary]')].some(b => "
            f"b.querySelector('[data-testid=stMarkdownContainer]')?.innerText.trim() === {label!r})")


def recorded_page(context: object, url: str) -> tuple[object, list]:
    """A new tab opened on `url`, and the list each ForwardMsg it receives from then on is decoded into."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    page, received = context.new_page(), []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda frame: received.append(ForwardMsg.FromString(
        frame if isinstance(frame, bytes) else frame.encode()))))
    page.goto(url)
    return page, received


def open_lab(context: object, url: str, query: str) -> object:
    """A new tab on the Lab at `url/?query`, returned once its Train button is drawn."""
    page = context.new_page()
    page.goto(f"{url}/?{query}")
    lab_drawn(page)
    return page


def lab_drawn(page: object) -> None:
    """Return once the Lab's first run has drawn its Train button. A fresh server's first run imports torch and
    builds every chart's spec: beside a busy loop per core and a test suite it took over 30 s (Playwright's default
    wait), still drawing the sidebar's placeholders."""
    button(page, "Train").wait_for(timeout=60_000)


def _step_values(page: object, metrics: object) -> object:
    """The values ("123", labelled "Step (of 500)") of the Step metrics among `metrics`."""
    label = page.get_by_test_id("stMetricLabel").get_by_text(re.compile(r"^Step \(of \d+\)$"))
    return metrics.filter(has=label).get_by_test_id("stMetricValue")


def step_count(page: object) -> int:
    """The Step metric of the Lab page or a viewer's.

    Only a current element: while a rerun redraws the status, Streamlit can briefly show the previous run's
    metric beside the new one, marked data-stale."""
    current = page.locator('[data-testid="stElementContainer"]:not([data-stale="true"]) [data-testid="stMetric"]')
    return int(_step_values(page, current).inner_text())


def shown_steps(page: object) -> list[int]:
    """Every Step metric on the page, stale ones included: a rerun cut short (the server stopped, the connection lost)
    leaves the elements it had not redrawn yet marked data-stale (shown faded) until the server answers again;
    step_count waits those out."""
    values = _step_values(page, page.get_by_test_id("stMetric")).all_inner_texts()
    return [int(text) for text in values]


# Timing inside the page (Playwright's own polling adds up to ~0.8 s on a busy box): `watch` records the
# moment of the next click and, after it, the first moment each named JavaScript predicate holds.
WATCH = """predicates => {
  window.__clicked = null;
  window.__seen = {};
  const tests = Object.fromEntries(Object.entries(predicates).map(([name, body]) => [name, new Function(body)]));
  document.addEventListener('click', () => { window.__clicked = performance.now(); }, {capture: true, once: true});
  const check = () => {
    if (window.__clicked === null) return;
    for (const [name, test] of Object.entries(tests)) {
      if (!(name in window.__seen) && test()) window.__seen[name] = performance.now();
    }
  };
  new MutationObserver(check).observe(document.body, {subtree: true, childList: true, characterData: true});
  window.__check = setInterval(check, 20);
}"""


def watch(page: object, **predicates: str) -> None:
    """From the next click on, record when each predicate (a JavaScript function body returning a boolean) first
    holds; read it with `seconds_after_click`."""
    page.evaluate(WATCH, predicates)


def seconds_after_click(page: object, name: str, timeout: float = 60.0) -> float:
    """Seconds from the click to the first moment predicate `name` held, measured in the page."""
    page.wait_for_function(f"window.__seen && {name!r} in window.__seen", timeout=timeout * 1000)
    return page.evaluate(f"(window.__seen[{name!r}] - window.__clicked) / 1000")


def page_text(fragment: str) -> str:
    """A watch predicate: the page's visible text contains `fragment`."""
    return f"return document.body.innerText.includes({fragment!r});"


def broadcast(page: object) -> str:
    """Press the Lab's "Broadcast" once and read the room code off the room badge.

    Pressed while the Train click's rerun may still be drawing: when the primary button took a new key per state,
    the control row shrank under the pointer as that rerun ended and the press was lost (twice in ~10 runs).
    Press it once the page shows that the press before it took effect (Train → Pause): with Streamlit's fast reruns
    (on by default, and forced on Community Cloud) a press whose run has not started yet is cancelled by the next
    one (docs/performance.md, "Two presses in quick succession")."""
    code = room_code(page)
    button(page, "Broadcast").click()  # in the Lab's control row: dashboard.presenter
    code.wait_for(timeout=60_000)  # a rerun, as open_lab's wait: under a load of 24 on 2 cores 10 s was too short
    return code.inner_text().strip()


def room_code(page: object) -> object:
    """The room code in the room badge (dashboard.room_badge), once a room is open."""
    return page.locator(".st-key-room_code").get_by_text(ROOM_CODE)


def end_broadcast(page: object) -> None:
    """End the room as a presenter does: the badge's Room menu, End broadcast…, then Yes in the dialog that asks
    (room_badge._confirm_end). Asked inside the menu, a Yes press was lost under load: the menu scrolled it into view
    and a rerun moved it between the pointer's down and up."""
    page.get_by_role("button", name=re.compile("Room")).click()
    page.get_by_role("button", name=re.compile("End broadcast")).click()
    page.get_by_test_id("stDialog").get_by_role("button", name="Yes, end it").click()


def lesson_pill(page: object, title: str) -> object:
    """The Lab's lesson pill `title` ("2 · Vanishing gradient")."""
    return page.get_by_test_id("stButtonGroup").get_by_text(title, exact=True)


def settle(page: object, timeout: float = 60.0) -> None:
    """Return once the app's script has finished running (Streamlit shows its status widget while it runs)."""
    page.wait_for_function("!document.querySelector('[data-testid=stStatusWidget]')", timeout=timeout * 1000)
