"""Route: a `%%claude` cell answers in the foreground, or in the background (a worker
thread streams into the cell while other cells run). This is where a cell starts:
prepare, then answer here or hand the answer to the chat's worker."""

from __future__ import annotations

import contextvars

from ..bedrock.exchange import as_user_error
from ..core.errors import ClaudeMagicError, Interrupted
from .answer import answer_here
from .background import STOP_GRACE, Job, active_jobs, jobs_of
from .options import CellOptions
from .prepare import PreparedCell, prepare_cell
from .session import KernelSession

TOOLS_REFUSED = (
    "--background can't be combined with Python tools (they run in the kernel beside "
    "your cells; MCP tools can): run this cell without -b."
)
NO_KERNEL = (
    "--background needs a Jupyter kernel (the answer streams into the cell's widget "
    "output): run this cell without -b."
)


def run_cell(session: KernelSession, options: CellOptions, cell: str) -> None:
    """`%%claude`: answer in the background when asked to, else in the foreground once
    the chat's background answers have ended."""
    if options.background and options.computer_use:
        raise ClaudeMagicError(TOOLS_REFUSED)  # before the computer-use tools are set up
    prepared = prepare_cell(session, options, cell)
    if prepared.cell_id:  # a re-run replaces the cell's earlier answer
        earlier = [job for job in active_jobs(session) if job.prepared.cell_id == prepared.cell_id]
        for job in earlier:
            jobs_of(session).stop(job)
        if earlier:
            jobs_of(session).wait(earlier, STOP_GRACE)
    if in_background(session, prepared):
        submit(session, prepared)
        return
    wait_for_chat(session, prepared.chat)
    answer_here(session, prepared)


def in_background(session: KernelSession, prepared: PreparedCell) -> bool:
    """Whether this cell answers in the background (refused in one line where it can't).
    An agent cell whose steps are cells run by the front end always does: the kernel
    must be free to run them."""
    agent = prepared.agent
    if agent is not None:
        if not agent.front_end and prepared.options.background:
            print(
                "claude-magic: this agent cell's steps run inline, so it answers in the foreground."
            )
        return agent.front_end
    explicit = prepared.options.background
    if not (explicit or prepared.config.background):
        return False
    from .view import in_kernel

    usable = in_kernel(session.shell) and _widgets_available()
    kernel_tools = prepared.toolset and not all(tool.thread_safe for tool in prepared.toolset)
    problem = NO_KERNEL if not usable else TOOLS_REFUSED if kernel_tools else None
    if problem and explicit:
        raise ClaudeMagicError(problem)
    if problem is TOOLS_REFUSED:
        print("claude-magic: this cell offers tools, so it answers in the foreground.")
    return problem is None


def _widgets_available() -> bool:
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


def submit(session: KernelSession, prepared: PreparedCell) -> Job:
    """Start the answer's view in this cell and queue the answer on its chat."""
    try:  # made here: boto3 sessions must not be created from several threads
        session.client(prepared.settings).client()
    except Exception as exc:
        raise as_user_error(exc, prepared.request) from None
    import ipywidgets as widgets

    from .view import make_view

    jobs = jobs_of(session)
    button = widgets.Button(
        description="Stop",
        icon="stop",
        tooltip="Stop this answer (what arrived is kept)",
        layout=widgets.Layout(width="auto", flex="0 0 auto"),
    )
    view = make_view(session.shell)
    header = prepared.header()
    header["controls"] = [button]
    view.start(header)
    ahead = jobs.active(prepared.chat)
    if ahead:
        view.notice(f"Queued: starts when the answer in {ahead[-1].cell} on this chat ends.")
    job = Job(
        jobs.next_number(), session, prepared, view, contextvars.copy_context(), button=button
    )
    button.on_click(lambda _button: jobs.stop(job))
    jobs.submit(job)
    return job


def wait_for_chat(session: KernelSession, chat: str) -> None:
    """A foreground cell on `chat` first waits for that chat's background answers."""
    pending = active_jobs(session, chat)
    if not pending:
        return
    print(f"Waiting for the background answer in {pending[-1].cell} on chat {chat!r}…")
    try:
        jobs_of(session).wait(pending)
    except KeyboardInterrupt:
        raise Interrupted(
            f"Interrupted while waiting; the background answer on chat {chat!r} keeps "
            "going (%claude stop stops it)."
        ) from None
