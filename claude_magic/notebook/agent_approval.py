"""Asking before an agent step runs: buttons in the agent cell (Approve, Approve all,
Reject with a reason) where the kernel is free to hear them, the stdin prompt where
it is not, and nothing at all where no one can answer."""

from __future__ import annotations

import html
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

POLL = 0.1  # seconds between looks at the stop flag while a question waits


@dataclass(frozen=True)
class Decision:
    """The user's answer to "run step N?": approve, all (the rest of this cell) or reject."""

    verdict: str
    reason: str = ""

    @property
    def runs(self) -> bool:
        return self.verdict in ("approve", "all")


def read_answer(text: str) -> Decision:
    """A typed answer: y/yes approves, a/all approves the rest of the cell, anything else
    rejects (after an n/no, the rest is the reason; otherwise all of it is)."""
    answer = text.strip()
    word, _, rest = answer.partition(" ")
    lowered = word.lower()
    if lowered in ("y", "yes"):
        return Decision("approve")
    if lowered in ("a", "all"):
        return Decision("all")
    if lowered in ("n", "no", ""):
        return Decision("reject", rest.strip())
    return Decision("reject", answer)


def code_html(code: str, number: int) -> str:
    return (
        f'<div class="claude-magic-agent-ask"><b>Run step {number}?</b>'
        f"<pre>{html.escape(code)}</pre></div>"
    )


class PromptAsker:
    """Asks on the stdin prompt (terminal IPython, a front end that allows input)."""

    def __init__(
        self,
        ask: Callable[[str], str],
        before_asking: Callable[[], None] | None = None,
        show: Callable[[str, str], None] | None = None,
    ) -> None:
        self._ask = ask
        self._before = before_asking
        self._show = show

    def __call__(self, code: str, number: int) -> Decision:
        if self._before is not None:
            self._before()
        if self._show is not None:
            self._show(code_html(code, number), f"Step {number}:\n{code}")
        answer = self._ask(
            f"Run step {number}? [y]es, [a]ll the rest of this cell, "
            "[n]o (a reason after n goes to Claude): "
        )
        return read_answer(answer)


class ButtonAsker:
    """Asks with buttons shown in the agent cell, from the answer's worker thread; the
    clicks arrive between cells, when the kernel is idle."""

    def __init__(
        self, stopped: Callable[[], bool], before_asking: Callable[[], None] | None = None
    ) -> None:
        self._stopped = stopped
        self._before = before_asking

    def __call__(self, code: str, number: int) -> Decision:
        return self.ask(code_html(code, number), f"Step {number}")

    def ask(self, question_html: str, what: str, *, allow_all: bool = True) -> Decision:
        """Show the question with its buttons and wait for a click (or a stop, which
        raises KeyboardInterrupt)."""
        import ipywidgets as widgets
        from IPython.display import HTML, display, update_display

        if self._before is not None:
            self._before()
        chosen: list[Decision] = []
        answered = threading.Event()
        reason = widgets.Text(
            placeholder="Reason for Reject (optional, goes to Claude)",
            layout=widgets.Layout(width="28em"),
        )

        def choose(verdict: str) -> Callable[[Any], None]:
            def on_click(_button: Any) -> None:
                if not answered.is_set():
                    chosen.append(
                        Decision(verdict, reason.value.strip() if verdict == "reject" else "")
                    )
                    answered.set()

            return on_click

        buttons = []
        choices = [
            ("Approve", "approve", "success", "Run it"),
            (
                "Approve all",
                "all",
                "info",
                "Run this step and the rest of this cell's steps without asking",
            ),
            ("Reject", "reject", "danger", "Don't run it; Claude gets the reason"),
        ]
        for label, verdict, style, tip in choices if allow_all else [choices[0], choices[2]]:
            button = widgets.Button(
                description=label,
                button_style=style,
                tooltip=tip,
                layout=widgets.Layout(width="auto"),
            )
            button.on_click(choose(verdict))
            buttons.append(button)
        box = widgets.VBox([widgets.HTML(question_html), widgets.HBox([*buttons, reason])])
        display_id = f"claude-magic-ask-{uuid.uuid4().hex}"
        display(box, display_id=display_id)
        try:
            while not answered.wait(POLL):
                if self._stopped():
                    raise KeyboardInterrupt
        finally:
            line = _answered_html(chosen[0] if chosen else None, what)
            update_display(HTML(line), display_id=display_id)
            box.close()
            for child in [*buttons, reason]:
                child.close()
        return chosen[0]


def _answered_html(decision: Decision | None, what: str) -> str:
    if decision is None:
        text = f"{what}: not answered (stopped)."
    elif decision.verdict == "approve":
        text = f"✓ {what} approved."
    elif decision.verdict == "all":
        text = f"✓ {what} approved, and the rest of this cell's steps."
    else:
        text = f"✗ {what} rejected" + (f": {decision.reason}" if decision.reason else ".")
    return f'<div class="claude-magic-agent-answered">{html.escape(text)}</div>'
