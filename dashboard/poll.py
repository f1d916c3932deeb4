"""Predict, then run: the presenter asks the class a question before Train, students answer on the watch page.

The poll lives in the room (dashboard.broadcast.Poll): one vote per watch tab (its viewer token), changeable until
Train, Step or Reveal locks it; then every watch page shows the class's tally and the answer beside the run. A vote
changes the poll and nothing else: the run is the presenter's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from dashboard.broadcast import PollView
from dashboard.presenter import presenter, rooms
from dashboard.presses import press_button
from models.lessons import GENERIC, QUESTIONS, Lesson

# What a student reads after voting, per Rooms.vote result.
VOTED = {
    "counted": "Your vote is in: **{choice}**. You can change it until the presenter runs.",
    "changed": "You changed your vote to **{choice}**. You can change it until the presenter runs.",
    "locked": "Too late: the presenter has started the run, so the votes are closed.",
    "full": "This poll is full: no more votes can be taken.",
    "no_poll": "The presenter closed this question.",
    "no_room": "The broadcast has ended.",
}
VOTE_NOTE = "poll_vote_note"  # session_state: the watch tab's last vote result, (poll number, result, choice)


def question_of(lesson: Lesson | None) -> tuple[str, tuple[str, ...], str | None]:
    """(question, choices, answer) the presenter asks: the lesson's own, or the generic one without an answer."""
    if lesson is not None:
        return lesson.question, lesson.choices, lesson.answer
    generic = QUESTIONS[GENERIC]
    return generic.text, tuple(generic.choices), None


def tally_text(poll: PollView) -> str:
    """"vanish 2 · stay 1 · explode 0"."""
    return " · ".join(f"{choice} {count}" for choice, count in zip(poll.choices, poll.tally, strict=True))


# --- the presenter's side ---------------------------------------------------------------------------------------

def lock_poll() -> None:
    """Reveal (and the start of a run): this session's room takes no more votes and shows its answer."""
    if (code := presenter().code) is not None:
        rooms().lock(code)


def locking(action: Callable[[], Any]) -> Callable[[], None]:
    """`action` (Train, Step) that first locks this session's poll: what the class predicted is what it saw first."""
    def run() -> None:
        lock_poll()
        action()
    return run


def _ask(lesson: Lesson | None) -> None:
    if (code := presenter().code) is not None:
        question, choices, answer = question_of(lesson)
        rooms().ask(code, question, choices, answer)


def poll_button(poll: PollView | None, lesson: Lesson | None, place: Any = st) -> None:
    """"Ask the class" while no question is open, "Reveal" while one is: one key in both roles (like Train)."""
    if poll is None or poll.locked:
        question, choices, _ = question_of(lesson)
        press_button(place, "Ask the class", key="poll_button", icon=":material/how_to_vote:", action=_ask,
                     args=(lesson,), width="stretch",
                     help=f"Students answer on their watch page: {question} ({' / '.join(choices)}). "
                     "Train, Step or Reveal closes the votes and shows them the tally.")
    else:
        press_button(place, "Reveal", key="poll_button", icon=":material/visibility:", action=lock_poll,
                     width="stretch",
                     help="Close the votes and show students the tally (and the answer) without running.")


def poll_line(poll: PollView | None) -> str:
    """The badge's poll part: the live tally, or nothing when no question was asked."""
    if poll is None:
        return ""
    state = "closed" if poll.locked else "open"
    return f" · poll {state}: {poll.votes} vote{'' if poll.votes == 1 else 's'} ({tally_text(poll)})"


# --- the students' side ------------------------------------------------------------------------------------------

def _vote(code: str, viewer: str, key: str, number: int) -> None:
    """on_change of a watch tab's answer: one vote, this tab's, in the room's poll and nowhere else."""
    choice = st.session_state[key]
    if choice is not None:
        st.session_state[VOTE_NOTE] = (number, rooms().vote(code, viewer, choice), choice)


def student_poll(code: str, poll: PollView | None, viewer: str) -> None:
    """The question and one choice to pick while votes are open; once locked, the class's tally and the answer."""
    if poll is None:
        return
    with st.container(border=True, key="student_poll"):
        if poll.locked:
            _revealed(poll)
            return
        key = f"vote_{poll.number}"  # a new question is a new widget, with nothing picked
        st.radio(f"**Predict:** {poll.question}", poll.choices, index=None, key=key, horizontal=True,
                 on_change=_vote, args=(code, viewer, key, poll.number))
        number, result, choice = st.session_state.get(VOTE_NOTE, (None, None, None))
        if number == poll.number:
            st.caption(VOTED[result].format(choice=choice))


def _revealed(poll: PollView) -> None:
    mine = f" You voted **{poll.mine}**." if poll.mine else ""
    answer = f" **The run shows: {poll.answer}.**" if poll.answer else " Watch the run: it answers."
    st.markdown(f"**{poll.question}** The class predicted: {tally_text(poll)}.{mine}{answer}")
