"""Agent cells (`%%claude --agent`): the notebook as Claude's workspace. Claude reads
cells and variables and runs code in steps; each step asks first (ask), is never
offered (plan) or runs at once (auto).

Where steps run: with claude-magic's JupyterLab extension, a step is a real cell
inserted below the agent cell and run by the front end, and the agent cell answers as
a background answer does (it returns at once and the loop goes on between cells: a
cell that waited for another cell to run would wait forever, since the kernel runs one
cell at a time). Elsewhere (nbclient, VS Code, terminal IPython) the loop runs in the
agent cell and each step runs inline on the kernel's main thread, kept in its history."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..core.errors import ClaudeMagicError
from .agent_approval import ButtonAsker, Decision, PromptAsker
from .config import Config
from .options import CellOptions
from .session import KernelSession

if TYPE_CHECKING:
    from ..tools.notebook_tools import StepOutcome
    from ..tools.toolset import ToolSet

MODES = ("ask", "plan", "auto")

AGENT_SYSTEM = """You are working in the user's Jupyter notebook, inside its live Python kernel.
Tools: read_cells shows the cells run so far; list_variables and inspect_variable show what \
the namespace holds; run_code runs Python in the kernel as a new notebook cell below this one \
(its state persists between steps). Look before you act and reuse what exists. Keep each step \
small and focused, check its result, and fix your own errors. Figures a step shows come back to \
you as images. When you are done, answer with a short Markdown explanation of what you did and \
found."""

ASK_NOTE = (
    "The user approves each step before it runs; a rejected step comes back with the reason: adapt."
)

PLAN_SYSTEM = """You are planning work in the user's Jupyter notebook, inside its live Python \
kernel. You can read (read_cells, list_variables, inspect_variable) but you cannot run code. \
Look at what exists, then answer with a short plan and, for each step, the Python code you would \
run in a ```python block."""

NO_FRONT_END = (
    "claude-magic: agent steps run inline in this cell (no claude-magic JupyterLab "
    "extension answered in this kernel's front end)."
)
NOT_BESIDE_TOOLS = (
    "claude-magic: this agent cell also offers Python tools, which run in the kernel: "
    "its steps run inline in this cell."
)


def agent_mode(options: CellOptions, config: Config) -> str:
    """The cell's mode: --agent MODE, else the agent_mode trait."""
    mode = (options.agent or config.agent_mode).strip().lower()
    if mode not in MODES:
        raise ClaudeMagicError(f"--agent takes ask, plan or auto, not {mode!r}.")
    return mode


def agent_system(mode: str, system: str | None) -> str:
    """The system prompt of an agent cell: how the notebook works, then the user's own."""
    own = (
        PLAN_SYSTEM if mode == "plan" else AGENT_SYSTEM + ("\n" + ASK_NOTE if mode == "ask" else "")
    )
    return own + (f"\n\n{system}" if system else "")


@dataclass
class Step:
    """One step that was asked for: its code, the cell it became, what it gave."""

    number: int
    code: str
    outcome: StepOutcome
    cell_id: str | None = None
    called_at: float = 0.0  # time.monotonic() when Claude's call reached the workspace


@dataclass
class AgentWorkspace:
    """What an agent cell's tools act on: the kernel's namespace and history, and the
    steps, approved and run in the front end or inline."""

    session: KernelSession
    mode: str
    chat: str
    agent_cell: str | None
    execution_count: int | None
    timeout: float
    front_end: bool
    steps: list[Step] = field(default_factory=list)
    approve_all: bool = False
    view: Any = None

    # -- the answer's view, once it has started

    def attach(self, view: Any) -> None:
        self.view = view
        if self.mode == "auto":
            view.notice("Agent, auto: steps run without asking.")
        elif self.mode == "plan":
            view.notice("Agent, plan: Claude reads the notebook; no code runs.")
        if self.front_end:
            self._offer_removal()

    def stopped(self) -> bool:
        return bool(getattr(self.view, "stop_requested", False))

    # -- reading (never asks)

    def read_cells(self, start: int | None = None, end: int | None = None) -> str:
        from .notebook_reading import read_cells

        return read_cells(self.session, start, end, current=self.execution_count)

    def list_variables(self) -> str:
        from .notebook_reading import list_variables

        return list_variables(self.session.shell)

    def inspect_variable(self, name: str) -> str:
        from .notebook_reading import inspect_variable

        return inspect_variable(self.session.shell, name, self.session.config().context_max_chars)

    # -- running

    def run_code(self, code: str) -> StepOutcome:
        """Run one step once the user approved it (or the mode says so). A step the user
        interrupted ends the loop: KeyboardInterrupt after it is recorded."""
        from ..tools.notebook_tools import StepOutcome

        number = len(self.steps) + 1
        called_at = time.monotonic()
        decision = self._decide(code, number)
        if decision is None:
            outcome = StepOutcome(
                code=code,
                status="needs_approval",
                note="no one can answer here (nbclient, papermill or no stdin)",
            )
        elif not decision.runs:
            outcome = StepOutcome(code=code, status="rejected", note=decision.reason)
        else:
            self.approve_all = self.approve_all or decision.verdict == "all"
            outcome, cell_id = self._run(code, number)
            self.steps.append(Step(number, code, outcome, cell_id, called_at))
            if outcome.status == "interrupted":
                raise KeyboardInterrupt
            return outcome
        self.steps.append(Step(number, code, outcome, None, called_at))
        return outcome

    @property
    def steps_run(self) -> int:
        return sum(
            1 for step in self.steps if step.outcome.status not in ("rejected", "needs_approval")
        )

    def _decide(self, code: str, number: int) -> Decision | None:
        """Approve (auto, or after "Approve all"), or ask; None when no one can answer."""
        if self.mode == "auto" or self.approve_all:
            return Decision("approve")
        before = getattr(self.view, "continue_below", None)
        if self.front_end:
            return ButtonAsker(self.stopped, before_asking=before)(code, number)
        from ..tools.approval import answer_or_none, stdin_available

        if not stdin_available(self.session.shell):
            return None
        import builtins

        # input looked up at call time: ipykernel swaps it per request
        asker = PromptAsker(
            lambda prompt: builtins.input(prompt), before_asking=before, show=_show_html
        )
        return answer_or_none(lambda _prompt: asker(code, number), "")

    def _run(self, code: str, number: int) -> tuple[StepOutcome, str | None]:
        if self.front_end:
            return self._run_in_front_end(code, number)
        from .inline_step import run_inline

        return run_inline(self.session.shell, code, timeout=self.timeout), None

    def _run_in_front_end(self, code: str, number: int) -> tuple[StepOutcome, str | None]:
        import threading

        from ..tools.notebook_tools import StepOutcome
        from .frontend import FrontEndError

        stop = getattr(self.view, "stop_event", None) or threading.Event()
        after = next((s.cell_id for s in reversed(self.steps) if s.cell_id), None)
        metadata = {
            "claude_magic": {"agent_cell": self.agent_cell, "chat": self.chat, "step": number}
        }
        started = time.monotonic()
        try:
            cell = self.session.frontend.run_step(
                agent_cell=self.agent_cell or "",
                after=after,
                code=code,
                metadata=metadata,
                timeout=self.timeout,
                stop=stop,
            )
        except FrontEndError as exc:
            return StepOutcome(
                code=code,
                outputs=[],
                execution_count=None,
                elapsed=time.monotonic() - started,
                status="failed",
                note=str(exc),
            ), None
        status = cell.status
        if status == "error" and any(o.get("ename") == "KeyboardInterrupt" for o in cell.outputs):
            status = "interrupted"  # the user interrupted the kernel while the step ran
        elif status == "aborted":
            status = "failed"
        began = cell.started_at or started
        elapsed = max(0.0, (cell.ended_at or time.monotonic()) - began)
        note = (
            "the kernel did not run the cell (an earlier cell failed?)"
            if cell.status == "aborted"
            else ""
        )
        self._remember(cell.cell_id, code)
        return StepOutcome(
            code=code,
            outputs=list(cell.outputs),
            execution_count=cell.execution_count,
            elapsed=elapsed,
            status=status,
            note=note,
        ), cell.cell_id

    # -- re-runs: the cells the agent cell inserted last time

    def _remember(self, cell_id: str | None, code: str) -> None:
        if cell_id and self.agent_cell:
            self.session.agent_cells.setdefault(self.agent_cell, {})[cell_id] = code

    def _offer_removal(self) -> None:
        """On a re-run, offer to remove the cells this agent cell inserted last time (the
        front end keeps any the user edited)."""
        earlier = self.session.agent_cells.pop(self.agent_cell, None) if self.agent_cell else None
        if not earlier:
            return
        import ipywidgets as widgets
        from IPython.display import display

        count = len(earlier)
        label = widgets.HTML(f"This cell inserted {count} cell(s) last time.")
        button = widgets.Button(
            description=f"Remove the {count} earlier step cell(s)",
            icon="trash",
            tooltip="Cells you edited are kept",
            layout=widgets.Layout(width="auto"),
        )

        def done(removed: list[str], kept: list[str]) -> None:
            kept_note = f"; kept {len(kept)} you edited" if kept else ""
            label.value = f"Removed {len(removed)} earlier step cell(s){kept_note}."

        def remove(_button: Any) -> None:
            button.disabled = True
            self.session.frontend.remove_cells(
                agent_cell=self.agent_cell or "", cells=earlier, on_done=done
            )

        button.on_click(remove)
        display(widgets.HBox([label, button]))


def _show_html(html_text: str, text: str) -> None:
    from IPython.display import display

    display({"text/html": html_text, "text/plain": text}, raw=True)


def add_agent(
    session: KernelSession, config: Config, options: CellOptions, chat: str, toolset: ToolSet | None
) -> tuple[AgentWorkspace, ToolSet, list[str]]:
    """The workspace of an agent cell, its tools added to the cell's, and the notices
    that say where its steps run."""
    from ..tools.notebook_tools import agent_tools

    mode = agent_mode(options, config)
    notices: list[str] = []
    front_end = False
    if mode != "plan":
        front_end, why_not = _front_end_usable(session, toolset)
        if why_not and why_not not in session.said:
            session.said.add(why_not)
            notices.append(why_not.removeprefix("claude-magic: "))
    workspace = AgentWorkspace(
        session,
        mode=mode,
        chat=chat,
        agent_cell=session.cell.cell_id,
        execution_count=session.cell.execution_count,
        timeout=config.agent_step_timeout,
        front_end=front_end,
    )
    session.last_agent = workspace
    tools = agent_tools(workspace, can_run=mode != "plan")
    return workspace, (toolset | tools if toolset else tools), notices


def _front_end_usable(session: KernelSession, toolset: ToolSet | None) -> tuple[bool, str | None]:
    """Whether steps can be cells run by the JupyterLab extension; if not, why (once)."""
    from .view import in_kernel

    if not in_kernel(session.shell):
        return False, None  # terminal IPython: inline, nothing to explain
    if not session.frontend.ready or not session.cell.cell_id:
        return False, NO_FRONT_END
    if toolset and any(not getattr(tool, "thread_safe", False) for tool in toolset):
        return False, NOT_BESIDE_TOOLS
    return True, None
