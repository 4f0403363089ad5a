"""Conversations: turns, named chats, re-run rewind, trimming to Bedrock's limits,
save and load.

A `Turn` is one `%%claude` cell: the user's content blocks and the assistant
replies (several, with tool results between them, when tools ran). A
`Conversation` turns its turns into wire messages that Bedrock accepts: roles
alternate, every tool_use has its tool_result, no empty or whitespace-ending
assistant text. Pure: no IPython, no boto3.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .context_edits import compacted_tokens, compaction_of, from_compaction
from .fitting import BODY_BUDGET, fit_body
from .messages import (
    MAX_IMAGES,
    Block,
    Message,
    Usage,
    as_blocks,
    build_request,
    text_block,
    tool_result_block,
)
from .private_files import write_private
from .saved import CHATS_FORMAT, FORMAT, VERSION, check_saved

DEFAULT_CHAT = "default"
INTERRUPTED_MARK = " [interrupted]"
STOPPED = "stopped"  # the error of a turn the user stopped (kept like an interrupted one)
NO_ANSWER_INTERRUPTED = "(no answer: interrupted)"
NO_ANSWER = "(no answer)"
TOOL_NOT_RUN = "Not run: the turn ended before this tool ran."

Wire = dict[str, Any]


# ---------------------------------------------------------------- turns


@dataclass
class Turn:
    """One exchange: the user's blocks, then replies[0], results[0], replies[1], ...

    `results[i]` is the user content (tool_result blocks) answering the tool_use
    blocks of `replies[i]`. `image_labels` runs parallel to the image blocks of
    `user` (e.g. "cell 3"), for the placeholders that replace trimmed images.
    `compacted`: a later compaction summarised this turn; it is kept, not sent.
    """

    user: list[Block]
    replies: list[Message] = field(default_factory=list)
    results: list[list[Block]] = field(default_factory=list)
    cell_id: str | None = None
    execution_count: int | None = None
    image_labels: list[str | None] = field(default_factory=list)
    interrupted: bool = False
    error: str | None = None
    model_id: str = ""
    timestamp: float = field(default_factory=time.time)
    compacted: bool = False

    def __post_init__(self) -> None:
        self.user = as_blocks(self.user)

    def add_reply(self, message: Message, prefill: str | None = None) -> None:
        """Record an assistant reply; a prefill is put back in front of its text."""
        if prefill and prefill.rstrip():
            content = list(message.content)
            if content and content[0].get("type") == "text":
                content[0] = text_block(prefill.rstrip() + content[0]["text"])
            else:
                content.insert(0, text_block(prefill.rstrip()))
            message.content = content
        self.replies.append(message)

    def add_results(self, blocks: list[Block]) -> None:
        """Record the tool_result blocks answering the latest reply."""
        self.results.append(list(blocks))

    def complete(self, messages: list[Message]) -> None:
        """Record a finished exchange: assistant replies and, between them, the
        user messages carrying tool results (as a tool loop returns them)."""
        for message in messages:
            if message.role == "assistant":
                self.add_reply(message)
            else:
                self.add_results(message.content)

    def complete_partial(self, partial: Message, reason: str) -> None:
        """Record the reply that was cut short (by an interrupt or an error)."""
        if not self.replies or self.replies[-1] is not partial:
            self.add_reply(partial)
        self.interrupted = True
        if reason != "interrupted":
            self.error = reason

    def user_message(self) -> Wire:
        """The user's prompt as a wire message."""
        return {"role": "user", "content": self.user}

    @property
    def message(self) -> Message | None:
        """The latest assistant reply."""
        return self.replies[-1] if self.replies else None

    @property
    def usage(self) -> Usage:
        """What the turn's requests used, compactions included."""
        return Usage.total(reply.billed_usage for reply in self.replies)

    @property
    def compaction(self) -> Block | None:
        """The compaction block Bedrock made in this turn, if any (the latest)."""
        blocks = [b for b in map(compaction_of, self.replies) if b is not None]
        return blocks[-1] if blocks else None

    @property
    def prompt_text(self) -> str:
        return "".join(b.get("text", "") for b in self.user if b.get("type") == "text")

    @property
    def answer_text(self) -> str:
        """The text of every reply, joined by blank lines."""
        return "\n\n".join(r.text for r in self.replies if r.text)

    def display_text(self) -> str:
        """The answer as shown to people, with a marker when it was cut short."""
        text = self.answer_text or (NO_ANSWER_INTERRUPTED if self.interrupted else NO_ANSWER)
        if not self.interrupted:
            return text
        return text + (f" [{STOPPED}]" if self.error == STOPPED else INTERRUPTED_MARK)

    @property
    def has_answer(self) -> bool:
        """True when some reply holds content worth keeping (text or a tool call)."""
        return any(
            (b.get("type") == "text" and b.get("text", "").strip())
            or b.get("type") in ("tool_use", "compaction")
            for r in self.replies
            for b in r.content
        )

    def wire(self) -> list[Wire]:
        """This turn's wire messages (user first; may end with user tool results)."""
        out: list[Wire] = [{"role": "user", "content": self.user}]
        last = len(self.replies) - 1
        for i, reply in enumerate(self.replies):
            results = self.results[i] if i < len(self.results) else None
            content = _assistant_content(reply.content, self.interrupted and i == last)
            out.append({"role": "assistant", "content": content})
            uses = [b["id"] for b in content if b.get("type") == "tool_use"]
            if results is not None or uses:
                out.append({"role": "user", "content": _paired_results(uses, results or [])})
        if not self.replies:
            placeholder = NO_ANSWER_INTERRUPTED if self.interrupted else NO_ANSWER
            out.append({"role": "assistant", "content": [text_block(placeholder)]})
        return out

    def images(self) -> Iterator[tuple[Block, str | None]]:
        """The user's image blocks with their labels."""
        labels = self.image_labels
        n = 0
        for block in self.user:
            if block.get("type") == "image":
                yield block, labels[n] if n < len(labels) else None
                n += 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "replies": [{**r.to_dict(), "metrics": r.metrics} for r in self.replies],
            "results": self.results,
            "cell_id": self.cell_id,
            "execution_count": self.execution_count,
            "image_labels": self.image_labels,
            "interrupted": self.interrupted,
            "error": self.error,
            "model_id": self.model_id,
            "timestamp": self.timestamp,
            **({"compacted": True} if self.compacted else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Turn:
        replies = []
        for item in data.get("replies") or []:
            message = Message.from_dict(item)
            message.metrics = dict(item.get("metrics") or {})
            replies.append(message)
        return cls(
            user=as_blocks(data.get("user") or []),
            replies=replies,
            results=[list(r) for r in data.get("results") or []],
            cell_id=data.get("cell_id"),
            execution_count=data.get("execution_count"),
            image_labels=list(data.get("image_labels") or []),
            interrupted=bool(data.get("interrupted")),
            error=data.get("error"),
            model_id=data.get("model_id") or "",
            timestamp=float(data.get("timestamp") or 0.0),
            compacted=bool(data.get("compacted")),
        )


def _assistant_content(blocks: list[Block], interrupted: bool) -> list[Block]:
    """Assistant blocks as Bedrock accepts them back: no blank text, no trailing
    whitespace at the end, tool inputs always objects, unsigned thinking dropped.
    Returns `blocks` itself when nothing needs changing."""
    clean = True
    for b in blocks:
        kind = b.get("type")
        if kind == "text":
            text = b.get("text", "")
            if not text.strip() or text[-1].isspace():
                clean = False
                break
        elif kind == "tool_use":
            if not isinstance(b.get("input"), dict) or len(b) != 4:
                clean = False
                break
        elif kind in ("thinking", "redacted_thinking"):
            if interrupted or not (b.get("signature") or b.get("data")):
                clean = False
                break
    if clean and blocks:
        return blocks
    out: list[Block] = []
    for b in blocks:
        kind = b.get("type")
        if kind == "text":
            text = b.get("text", "").rstrip()
            if text:
                out.append(b if text == b.get("text") else text_block(text))
        elif kind == "tool_use":
            tool_input = b.get("input")
            out.append(
                {
                    "type": "tool_use",
                    "id": b.get("id", ""),
                    "name": b.get("name", ""),
                    "input": tool_input if isinstance(tool_input, dict) else {},
                }
            )
        elif kind in ("thinking", "redacted_thinking"):
            if not interrupted and (b.get("signature") or b.get("data")):
                out.append(b)
        else:
            out.append(b)
    if not any(b.get("type") != "thinking" and b.get("type") != "redacted_thinking" for b in out):
        out.append(text_block(NO_ANSWER_INTERRUPTED if interrupted else NO_ANSWER))
    return out


def _paired_results(tool_use_ids: list[str], results: list[Block]) -> list[Block]:
    """Tool results in tool_use order, with a stand-in for every tool that didn't run."""
    if not tool_use_ids:
        return results
    answered = {b.get("tool_use_id") for b in results if b.get("type") == "tool_result"}
    missing = [
        tool_result_block(i, TOOL_NOT_RUN, is_error=True) for i in tool_use_ids if i not in answered
    ]
    return [*results, *missing] if missing else results


# ---------------------------------------------------------------- conversations


@dataclass
class Conversation:
    """A named chat: its turns and an optional system prompt."""

    name: str = DEFAULT_CHAT
    turns: list[Turn] = field(default_factory=list)
    system: str | None = None

    def new_turn(
        self,
        user: list[Block],
        *,
        image_labels: list[str | None] | None = None,
        cell_id: str | None = None,
        execution_count: int | None = None,
        model_id: str = "",
    ) -> Turn:
        """A turn to fill in and `add` later (not part of the conversation yet)."""
        return Turn(
            user,
            image_labels=list(image_labels or []),
            cell_id=cell_id,
            execution_count=execution_count,
            model_id=model_id,
        )

    def add(self, turn: Turn) -> bool:
        """Commit a finished turn. A request that failed before any answer adds
        nothing (returns False); a failed answer with some content is kept and
        marked interrupted; an interrupted one is always kept."""
        if turn.error and not turn.interrupted:
            if not turn.has_answer:
                return False
            turn.interrupted = True
        self.turns.append(turn)
        self._mark_compacted()
        return True

    def _mark_compacted(self) -> None:
        """Mark the turns that the latest compaction summarised (every turn before it)."""
        last = next(
            (i for i in range(len(self.turns) - 1, -1, -1) if self.turns[i].compaction is not None),
            0,
        )
        for index, turn in enumerate(self.turns):
            turn.compacted = index < last

    def add_cut_short(
        self, turn: Turn, finished: list[Message], partial: Message | None, reason: str
    ) -> bool:
        """Commit what arrived before an answer was cut short (an error, an interrupt,
        a stop): the replies that `finished` (tool-loop steps), then the `partial`
        reply marked with `reason`. A request with no answer at all leaves nothing;
        the conversation stays valid either way. Returns whether the turn was kept."""
        if finished:
            turn.complete(finished)
        if partial is not None and partial.content:
            turn.complete_partial(partial, reason)
        elif turn.replies:
            turn.interrupted = True
            if reason != "interrupted":
                turn.error = reason
        else:
            return False
        return self.add(turn)

    def rewind_to_cell(self, cell_id: str | None) -> int:
        """Re-running a cell replaces its turn: drop the turn from `cell_id` and
        every later one; return how many went. Cells without an id never rewind."""
        if not cell_id:
            return 0
        for index, turn in enumerate(self.turns):
            if turn.cell_id == cell_id:
                dropped = len(self.turns) - index
                del self.turns[index:]
                self._mark_compacted()
                return dropped
        return 0

    def undo(self) -> Turn | None:
        """Drop the last turn and return it."""
        turn = self.turns.pop() if self.turns else None
        self._mark_compacted()
        return turn

    def reset(self) -> None:
        self.turns.clear()

    def __len__(self) -> int:
        return len(self.turns)

    def usage_total(self) -> Usage:
        total = Usage()
        for turn in self.turns:
            total = total + turn.usage
        return total

    def cost_total(self) -> float:
        """Estimated USD cost of the turns whose model the catalogue prices (cache
        writes at the 5-minute price, reads at the read price)."""
        from .costs import summarise

        return summarise(self.turns).cost

    def messages(self, pending: Turn | None = None, prefill: str | None = None) -> list[Wire]:
        """The wire messages: every turn, then `pending` (the turn being asked),
        then `prefill` as a final assistant message if given."""
        return self._messages(pending, prefill)[0]

    def _messages(self, pending: Turn | None, prefill: str | None) -> tuple[list[Wire], int]:
        """The wire messages and the index where `pending`'s messages start. Turns that a
        compaction summarised are not sent: the compaction block stands for them."""
        out: list[Wire] = []
        first = next(
            (i for i in range(len(self.turns) - 1, -1, -1) if self.turns[i].compaction is not None),
            0,
        )
        for turn in self.turns[first:]:
            _extend(out, turn.wire())
        start = len(out) - 1 if out and out[-1]["role"] == "user" else len(out)
        if pending is not None:
            _extend(
                out,
                pending.wire() if pending.replies else [{"role": "user", "content": pending.user}],
            )
        if prefill and prefill.rstrip() and out and out[-1]["role"] == "user":
            out.append({"role": "assistant", "content": prefill.rstrip()})
        out, dropped = from_compaction(out)
        return out, max(0, start - dropped)

    def image_labels(self, pending: Turn | None = None) -> dict[int, str | None]:
        """`id(image_block)` -> label, for every user image (for `fit_body`)."""
        return {
            id(block): label
            for turn in ([*self.turns, pending] if pending else self.turns)
            for block, label in turn.images()
        }

    def request_body(
        self,
        pending: Turn | None = None,
        *,
        prefill: str | None = None,
        max_images: int = MAX_IMAGES,
        max_bytes: int = BODY_BUDGET,
        **options: Any,
    ) -> tuple[dict[str, Any], list[str]]:
        """The InvokeModel body for the next request, trimmed to Bedrock's limits,
        and the descriptions of images/documents left out. `options` go to
        `messages.build_request` (max_tokens, temperature, tools, ...); `system`
        defaults to the chat's."""
        messages, start = self._messages(pending, prefill)
        options.setdefault("system", self.system)
        body = build_request(messages, **options)
        return fit_body(
            body,
            _LazyLabels(self, pending),
            keep_from=start if pending else None,
            max_images=max_images,
            max_bytes=max_bytes,
        )

    def fit_request(
        self,
        messages: list[Wire],
        pending: Turn | None = None,
        *,
        max_images: int = MAX_IMAGES,
        max_bytes: int = BODY_BUDGET,
        reserve: int = 0,
    ) -> tuple[list[Wire], list[str]]:
        """Trim wire messages built from this conversation (and `pending`, whose
        images are kept as long as possible: they sit in the last message) to
        Bedrock's limits. `reserve` is the size of the rest of the body (system,
        tools). Returns the messages and the descriptions of what was left out."""
        body, omitted = fit_body(
            {"messages": messages},
            _LazyLabels(self, pending),
            max_images=max_images,
            max_bytes=max_bytes - reserve,
        )
        return body["messages"], omitted

    def history_text(self, max_chars: int = 400) -> str:
        """The conversation as readable text, with token totals."""
        usage = self.usage_total()
        lines = [
            f"Chat {self.name!r}: {len(self.turns)} turn{'s' * (len(self.turns) != 1)}, "
            f"{usage.input_tokens:,} input / {usage.output_tokens:,} output tokens"
        ]
        if self.system:
            lines.append(f"System: {_clip(self.system, max_chars)}")
        for n, turn in enumerate(self.turns, 1):
            where = f" (In [{turn.execution_count}])" if turn.execution_count is not None else ""
            images = len(list(turn.images()))
            extra = f" [+{images} image{'s' * (images != 1)}]" if images else ""
            marks = " [compacted: not sent]" if turn.compacted else ""
            lines.append(f"[{n}]{where}{marks} You: {_clip(turn.prompt_text, max_chars)}{extra}")
            compaction = turn.compaction
            if compaction is not None:
                tokens = sum(compacted_tokens(r) for r in turn.replies)
                summed = f" ({tokens:,} tokens)" if tokens else ""
                lines.append(
                    f"    ── compacted here: Bedrock summarised the {n - 1} earlier turn(s)"
                    f"{summed}: {_clip(str(compaction.get('content') or ''), max_chars)}"
                )
            tools = sum(len(r.tool_uses) for r in turn.replies)
            calls = f" [{tools} tool call{'s' * (tools != 1)}]" if tools else ""
            u = turn.usage
            lines.append(
                f"    Claude: {_clip(turn.display_text(), max_chars)}{calls} "
                f"({u.input_tokens:,} in / {u.output_tokens:,} out)"
            )
            lines += _tool_lines(turn)
            if turn.error:
                lines.append(f"    Error: {turn.error}")
        return "\n".join(lines)

    # -- save and load

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "name": self.name,
            "system": self.system,
            "turns": [t.to_dict() for t in self.turns],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Conversation:
        """A conversation saved by `to_dict`; ValueError naming the first bad place if not."""
        if not isinstance(data, Mapping) or data.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} file")
        check_saved(data)
        return cls._from_checked(data)

    @classmethod
    def _from_checked(cls, data: Mapping[str, Any]) -> Conversation:
        return cls(
            name=data.get("name") or DEFAULT_CHAT,
            system=data.get("system"),
            turns=[Turn.from_dict(t) for t in data.get("turns") or []],
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> Conversation:
        return cls.from_dict(json.loads(text))


class _LazyLabels(Mapping[int, "str | None"]):
    """Image labels computed only if trimming actually needs them."""

    def __init__(self, conversation: Conversation, pending: Turn | None) -> None:
        self._args = (conversation, pending)
        self._labels: dict[int, str | None] | None = None

    def _get(self) -> dict[int, str | None]:
        if self._labels is None:
            self._labels = self._args[0].image_labels(self._args[1])
        return self._labels

    def __getitem__(self, key: int) -> str | None:
        return self._get()[key]

    def __iter__(self) -> Iterator[int]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())


def _extend(out: list[Wire], messages: list[Wire]) -> None:
    """Append wire messages, merging a user message into a preceding one."""
    for message in messages:
        if out and out[-1]["role"] == message["role"] == "user":
            out[-1] = {"role": "user", "content": [*out[-1]["content"], *message["content"]]}
        else:
            out.append(message)


def _tool_lines(turn: Turn, limit: int = 100) -> list[str]:
    """One line per tool call of the turn: the tool, its input (code as code), and the
    first line of what it gave."""
    answers = {
        b.get("tool_use_id"): b
        for results in turn.results
        for b in results
        if isinstance(b, dict) and b.get("type") == "tool_result"
    }
    lines = []
    for reply in turn.replies:
        for use in reply.tool_uses:
            given = use.get("input") or {}
            shown = (
                given["code"]
                if isinstance(given, dict) and isinstance(given.get("code"), str)
                else json.dumps(given, ensure_ascii=False, default=str)
            )
            answer = answers.get(use.get("id"))
            if answer is None:
                outcome = "(no result)"
            else:
                content = answer.get("content")
                text = (
                    content
                    if isinstance(content, str)
                    else " ".join(
                        b.get("text", "")
                        for b in content or []
                        if isinstance(b, dict) and b.get("type") == "text"
                    )
                )
                outcome = ("✗ " if answer.get("is_error") else "") + (
                    _clip(text, limit) or "(no text)"
                )
            lines.append(f"      🔧 {use.get('name', '?')}: {_clip(shown, limit)} → {outcome}")
    return lines


def _clip(text: str, limit: int) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


# ---------------------------------------------------------------- named chats


class Chats:
    """The kernel's chats: "default" plus named ones."""

    def __init__(self) -> None:
        self._chats: dict[str, Conversation] = {DEFAULT_CHAT: Conversation(DEFAULT_CHAT)}
        self.default_name = DEFAULT_CHAT  # the chat cells use when they name none

    def get(self, name: str | None = None, new: bool = False) -> Conversation:
        """The chat called `name` (default: `default_name`), created if missing;
        `new=True` starts it afresh (keeping its system prompt)."""
        name = name or self.default_name
        if name not in self._chats:
            self._chats[name] = Conversation(name)
        elif new:
            self._chats[name] = Conversation(name, system=self._chats[name].system)
        return self._chats[name]

    def names(self) -> list[str]:
        return list(self._chats)

    def reset(self, name: str | None = None) -> None:
        """Empty one chat (keeping its system prompt)."""
        self.get(name).reset()

    def remove(self, name: str) -> bool:
        """Forget a named chat; the default chat is emptied instead."""
        if name == self.default_name:
            self.reset(name)
            return True
        return self._chats.pop(name, None) is not None

    def __contains__(self, name: object) -> bool:
        return name in self._chats

    def __iter__(self) -> Iterator[Conversation]:
        return iter(list(self._chats.values()))

    def __len__(self) -> int:
        return len(self._chats)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": CHATS_FORMAT,
            "version": VERSION,
            "chats": [c.to_dict() for c in self._chats.values()],
        }

    def save(self, path: str | Path) -> Path:
        """Write every chat to a JSON file (images included, as base64), readable by its
        owner only and replaced whole."""
        return write_private(path, json.dumps(self.to_dict()).encode("utf-8"))

    def load(self, path: str | Path) -> list[str]:
        """Read chats saved by `save` (or one saved Conversation), replacing chats
        of the same names. Returns the names loaded. A file that doesn't match the
        saved format raises ValueError (naming its first bad place) and loads nothing."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            where = f"line {exc.lineno}, column {exc.colno}"
            raise ValueError(f"not JSON ({exc.msg} at {where})") from None
        check_saved(data)
        saved = [data] if data["format"] == FORMAT else data["chats"]
        loaded = [Conversation._from_checked(c) for c in saved]
        for conversation in loaded:
            self._chats[conversation.name] = conversation
        return [c.name for c in loaded]
