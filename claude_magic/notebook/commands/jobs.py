"""Commands on background answers: jobs, stop, wait."""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING

from ...core.errors import ClaudeMagicError, Interrupted
from .registry import ALL, CHAT, command, option

if TYPE_CHECKING:
    from ..background import Job, Jobs
    from ..session import KernelSession


@command(
    "jobs",
    "background answers running or queued: chat, cell, state, seconds, characters so far",
    CHAT,
)
def jobs(session: KernelSession, args: argparse.Namespace) -> None:
    from ..background import jobs_of

    active = jobs_of(session).active(args.chat)
    if not active:
        print("No background answers running or queued.")
        return
    now = time.monotonic()
    rows = [("#", "chat", "cell", "state", "seconds", "characters")]
    for job in active:
        since = job.started if job.started is not None else job.submitted
        rows.append(
            (str(job.number), job.chat, job.cell, job.state, f"{now - since:.1f}", str(job.chars))
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


@command(
    "stop",
    "stop the background answers of a chat (default: the default chat) or all; what "
    "arrived is kept",
    CHAT,
    ALL,
    usage="stop [--chat NAME | --all]",
)
def stop(session: KernelSession, args: argparse.Namespace) -> None:
    from ..background import STOP_GRACE, jobs_of

    queue = jobs_of(session)
    name = None if args.all else args.chat or session.chats.default_name
    stopped = queue.stop_all(name)
    if not stopped:
        others = sorted({j.chat for j in queue.active()})
        hint = f" Running on: {', '.join(others)} (use --chat NAME or --all)." if others else ""
        print(
            ("No background answers." if args.all else f"No background answer on chat {name!r}.")
            + hint
        )
        return
    queue.wait(stopped, STOP_GRACE)
    for job in stopped:
        print(
            f"Stopped the answer in {job.describe()}."
            if not job.active
            else f"Stopping the answer in {job.describe()} (it ends at its next event)."
        )


@command(
    "wait",
    "block until the background answers (of one chat) have ended, then send the "
    "finished answers to their cells again (for nbclient/papermill); an error line if `S` "
    "seconds pass first",
    CHAT,
    option("--timeout", type=float, default=None, metavar="S"),
)
def wait(session: KernelSession, args: argparse.Namespace) -> None:
    """Block until the answers end, then send every ended answer's static bundle once
    more from this cell (see `Job.republish`)."""
    from ..background import jobs_of, quietly

    queue = jobs_of(session)
    pending = queue.active(args.chat)
    try:
        _wait_and_report(queue, pending, args.chat, args.timeout)
    finally:
        for job in queue.ended():
            quietly(job.republish)


def _wait_and_report(
    queue: Jobs, pending: list[Job], chat: str | None, timeout: float | None
) -> None:
    if not pending:
        print(
            "No background answers to wait for."
            if chat is None
            else f"No background answer on chat {chat!r}."
        )
        return
    try:
        left = queue.wait(pending, timeout)
    except KeyboardInterrupt:
        raise Interrupted("Interrupted while waiting; the background answers keep going.") from None
    if left:
        raise ClaudeMagicError(
            f"Still running after {timeout:g} s: "
            + ", ".join(j.describe() for j in left)
            + " (%claude stop stops them)."
        )
    for job in pending:
        print(f"{job.describe()}: {job.outcome()}")
