"""A session's run across a dropped websocket (dashboard/lifetime.py): paused at the disconnect, kept for the grace
period, found again by a tab that returns in time, released otherwise. The janitor's clock is injected and its
sweeps are called by the test: no test waits for the grace period to pass."""

import gc
import time

from dashboard.lab_page import RELEASED, RUNNER
from dashboard.lifetime import DISCONNECTED, JANITOR, Janitor, Presence
from dashboard.player import THREAD_PREFIX, live_threads
from dashboard.presses import ACTIONS
from dashboard.runner import Runner
from models import RunConfig
from tests.dashboard.lab_app import open_app
from tests.dashboard.threads import wait_until

SMALL = RunConfig(task="cat_mat_rat", hidden_size=8, batch_size=8, steps=100_000)
GRACE = 30.0


class Clock:
    """A monotonic clock the test moves; it starts at time.monotonic() (the clock of Runner.touch), so it is
    created after the runner's last real touch."""

    def __init__(self) -> None:
        self.now = time.monotonic()

    def __call__(self) -> float:
        return self.now


def training(steps: int = 3) -> Runner:
    runner = Runner(SMALL)
    runner.train()
    wait_until(lambda: runner.snapshot().step >= steps)
    return runner


def stopped(runner: Runner) -> int:
    """The step the run paused at, once its thread ended."""
    wait_until(lambda: runner.snapshot().state == "paused")
    wait_until(lambda: f"{THREAD_PREFIX}-{runner.id}" not in live_threads())
    return runner.snapshot().step


def test_a_disconnected_run_pauses_at_once_and_is_released_after_the_grace_period():
    runner = training()
    clock = Clock()
    janitor = Janitor(GRACE, clock=clock)
    janitor.disconnected(runner)
    step = stopped(runner)
    assert runner.paused_why == DISCONNECTED
    clock.now += GRACE - 1
    assert janitor.sweep() == [] and runner.snapshot().step == step  # still within the grace period
    clock.now += 1
    assert janitor.sweep() == [runner]
    assert runner.released and runner.snapshot().step == 0 and janitor.waiting == 0


def test_the_janitor_reclaims_memory_once_after_a_sweep_that_released_runs_and_never_otherwise():
    clock, reclaimed = Clock(), []
    janitor = Janitor(GRACE, clock=clock, reclaim=lambda: reclaimed.append(clock.now))
    runners = [Runner(SMALL, clock=clock) for _ in range(2)]
    clock.now += 1  # their tabs disconnect after their last page run
    for runner in runners:
        janitor.disconnected(runner)
    assert janitor.sweep() == [] and reclaimed == []  # within the grace period: nothing released, nothing to do
    clock.now += GRACE
    assert janitor.sweep() == runners and reclaimed == [clock.now]  # two runs released, one collection
    assert janitor.sweep() == [] and len(reclaimed) == 1


def test_a_tab_that_returns_within_the_grace_period_finds_its_run_paused_and_resumes_it():
    runner = training()
    clock = Clock()
    janitor = Janitor(GRACE, clock=clock)
    janitor.disconnected(runner)
    step = stopped(runner)
    clock.now += 5
    runner.touch(at=clock.now)  # the reconnected page's first run
    clock.now += GRACE
    assert janitor.sweep() == [] and janitor.waiting == 0
    assert not runner.released and runner.snapshot().step == step and runner.paused_why == DISCONNECTED
    runner.train()
    wait_until(lambda: runner.snapshot().step > step)
    assert runner.paused_why is None
    runner.close()


def test_a_page_run_that_started_before_the_disconnect_does_not_keep_the_run():
    runner = training()
    clock = Clock()
    janitor = Janitor(GRACE, clock=clock)
    started = clock.now - 0.5  # the script run in flight when the websocket closed
    janitor.disconnected(runner)
    runner.touch(at=started)  # ... reaches the page's touch after the disconnect
    clock.now += GRACE
    assert janitor.sweep() == [runner] and runner.released


def test_presence_hands_its_runner_to_the_janitor_and_does_not_keep_it_alive():
    runner = Runner(SMALL)
    janitor = Janitor(GRACE, clock=Clock())
    Presence(runner, janitor).gone()
    assert janitor.waiting == 1
    janitor.sweep()  # not yet due
    orphan = Presence(Runner(SMALL), janitor)  # its runner is gone before the tab disconnects
    gc.collect()
    orphan.gone()
    assert janitor.waiting == 1


def test_the_lab_finds_its_run_after_a_disconnect_and_says_so_when_it_was_released(fresh_session, monkeypatch):
    from streamlit.runtime.caching import clear_session_resource_cache

    app = open_app({"task": "cat_mat_rat", "hidden_size": "8", "batch_size": "8", "steps": "100000"})
    runner = app.session_state[RUNNER]
    runner.train()
    wait_until(lambda: runner.snapshot().step >= 3)
    clear_session_resource_cache("test session id")  # the websocket closed: Streamlit releases session resources
    step = stopped(runner)
    app.run()  # the tab reconnected
    assert app.session_state[RUNNER] is runner and runner.snapshot().step == step
    assert DISCONNECTED in [info.value for info in app.info]
    clear_session_resource_cache("test session id")
    monkeypatch.setattr(JANITOR, "grace", 0.0)
    assert runner in JANITOR.sweep()
    app.run()  # the tab came back after the grace period: a new, idle run and a notice
    assert app.session_state[RUNNER] is not runner and app.session_state[RUNNER].snapshot().step == 0
    assert RELEASED in [info.value for info in app.info]


PLAIN = (str, int, float, bool, type(None))


def held_by_callbacks(app) -> list[object]:
    """Everything the session keeps for its widgets' actions, which stays with a closed tab's session as long as
    Streamlit keeps it for a reconnect: the callbacks' arguments (Streamlit's widget metadata) and the press
    registry's actions and arguments (dashboard/presses.py). Containers are opened, and so are functions: the
    object a method is bound to, the cells of a closure."""
    metadata = app.session_state._state._state._new_widget_state.widget_metadata.values()
    found = [arg for meta in metadata for arg in (*(meta.callback_args or ()), *(meta.callback_kwargs or {}).values())]
    if ACTIONS in app.session_state:
        found.extend(app.session_state[ACTIONS].values())
    for arg in found:  # grows while it is read: the contents of containers join the list
        if isinstance(arg, (tuple, list, set, frozenset)):
            found.extend(arg)
        elif isinstance(arg, dict):
            found.extend([*arg.keys(), *arg.values()])
        elif hasattr(arg, "__self__") and not isinstance(arg, type):
            found.append(arg.__self__)
        elif getattr(arg, "__closure__", None):
            found.extend(cell.cell_contents for cell in arg.__closure__)
    return found


def test_a_closed_tabs_widgets_keep_no_run_data_only_its_runner(fresh_session):
    # The Pin button once kept the page's Snapshot (copies of the whole history) as its callback argument: every
    # closed tab Streamlit keeps for a reconnect then held its run's data after the janitor released the run.
    app = open_app({"task": "cat_mat_rat", "hidden_size": "8", "batch_size": "8", "steps": "4"})
    for _ in range(2):
        app.button(key="step_button").click().run()
    assert not app.button(key="pin_button").disabled  # drawn with a run that has data to pin
    held = held_by_callbacks(app)
    assert app.session_state[RUNNER] in held  # the page's controls do hold the runner: it lets go of its run
    kept = (Runner, tuple, list, set, frozenset, dict, *PLAIN)  # a function is kept too, and opened above
    kinds = {type(arg).__name__ for arg in held if not callable(arg) and not isinstance(arg, kept)}
    assert not kinds, f"widget callbacks keep {kinds} in a session Streamlit keeps after its tab closed"
