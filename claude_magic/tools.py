"""Tools in a conversation: tool sets, approval, running one `tool_use` block into
a `tool_result` block, and the loop that answers tool calls until the model is done.

No IPython, boto3 or HTTP imports: the caller hands in a `send` function that
performs one request, and an `Approver` that knows whether someone can answer.
Schemas come from `tool_schema.py` (re-exported here).
"""

from __future__ import annotations

import builtins
import html
import json
import re
import sys
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import tool_schema as _tool_schema_module
from .messages import Block, Message, Usage, text_block, tool_result_block
from .tool_schema import (
    TOOL_ATTRIBUTE,
    ToolDefinitionError,
    ToolError,
    ToolOptions,
    call_with_input,
    check_tool_name,
    is_tool,
    tool,
    tool_schema,
)

__all__ = [
    "Approver", "LoopResult", "Tool", "ToolDefinitionError", "ToolError", "ToolLoopInterrupted",
    "ToolSet", "call_with_input", "check_tool_name", "is_tool", "result_content", "run_tool",
    "run_tool_loop", "stdin_available", "tool", "tool_choice_for", "tool_schema",
]

MAX_RESULT_CHARS = 20_000
DECLINED = "The user declined to run this tool."
NO_ONE_TO_ASK = (
    "Not run: this tool needs the user's approval and no one can answer here "
    "(set ClaudeMagic.auto_approve_tools = True to allow)."
)
STEP_LIMIT_REACHED = "Not run: the step limit was reached."
INTERRUPTED = "Interrupted by the user before the tool finished."
NOT_RUN_INTERRUPTED = "Not run: the user interrupted the tool calls."


@dataclass
class Tool:
    """One tool the model may call: its definition for the request and how to run it."""

    name: str
    definition: dict[str, Any]  # what goes in the request body's `tools` list
    handler: Callable[[dict[str, Any]], Any]  # takes the tool_use input
    confirm: bool = False  # ask the user before every call
    beta: str | None = None  # the anthropic_beta flag the definition needs
    func: Callable | None = None

    @classmethod
    def from_function(
        cls,
        func: Callable,
        *,
        name: str | None = None,
        description: str | None = None,
        confirm: bool | None = None,
    ) -> Tool:
        options = getattr(func, TOOL_ATTRIBUTE, None) or ToolOptions()
        definition = tool_schema(func, name=name, description=description)
        tool_name = definition["name"]
        return cls(
            name=tool_name,
            definition=definition,
            handler=lambda tool_input: call_with_input(func, tool_input, tool_name),
            confirm=options.confirm if confirm is None else confirm,
            func=func,
        )


def _lookup(name: str, namespace: Mapping[str, Any]) -> Any:
    head, *rest = name.split(".")
    if head not in namespace:
        raise ToolDefinitionError(f"No function named {name!r} in the notebook: define it first.")
    obj = namespace[head]
    for attr in rest:
        try:
            obj = getattr(obj, attr)
        except AttributeError:
            raise ToolDefinitionError(f"No function named {name!r} in the notebook.") from None
    if not callable(obj):
        raise ToolDefinitionError(f"{name!r} is a {type(obj).__name__}, not a function.")
    return obj


class ToolSet:
    """The tools offered in one request, by name."""

    def __init__(self, tools: Iterable[Tool | Callable] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        for item in tools:
            self.add(item)

    @classmethod
    def resolve(cls, spec: str | Iterable[str | Callable] | None, namespace: Mapping[str, Any]) -> ToolSet:
        """Tools from `--tools f,g` or `ClaudeMagic.tools`: names looked up in `namespace`
        (dotted names allowed), or callables."""
        if spec is None:
            return cls()
        items = [s for s in re.split(r"[,\s]+", spec) if s] if isinstance(spec, str) else list(spec)
        return cls(_lookup(i, namespace) if isinstance(i, str) else i for i in items)

    @classmethod
    def decorated_in(cls, namespace: Mapping[str, Any]) -> ToolSet:
        """Every `@tool`-marked function in `namespace` (e.g. the notebook's globals)."""
        return cls(v for k, v in namespace.items() if not k.startswith("_") and is_tool(v))

    def add(self, item: Tool | Callable) -> Tool:
        """Add a Tool or a function; the same function twice is kept once."""
        new = item if isinstance(item, Tool) else Tool.from_function(item)
        old = self._tools.get(new.name)
        if old is not None:
            if old.func is not None and old.func is new.func:
                return old
            raise ToolDefinitionError(f"Two tools are named {new.name!r}: rename one with @tool(name=...).")
        self._tools[new.name] = new
        return new

    def __or__(self, other: ToolSet) -> ToolSet:
        merged = ToolSet(self)
        for item in other:
            merged.add(item)
        return merged

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __iter__(self):
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    @property
    def names(self) -> list[str]:
        return list(self._tools)

    def definitions(self) -> list[dict[str, Any]]:
        """The request body's `tools` list."""
        return [t.definition for t in self]

    def betas(self) -> list[str]:
        """The `anthropic_beta` flags the tools need (computer use)."""
        return sorted({t.beta for t in self if t.beta})

    def render_text(self) -> str:
        """Plain text for `%claude tools`: each tool, its description and parameters."""
        if not self._tools:
            return "No tools. Pass --tools f,g, mark functions with @tool, or set ClaudeMagic.tools."
        return "\n\n".join(_tool_text(t) for t in self)

    def render_table(self) -> str:
        """An HTML table (everything escaped) for `%claude tools` in a notebook."""
        rows = []
        for t in self:
            body = {k: v for k, v in t.definition.items() if k not in ("name", "description")}
            rows.append(
                "<tr><td><code>{}</code>{}</td><td>{}</td><td><pre>{}</pre></td></tr>".format(
                    html.escape(t.name),
                    "<br><small>asks before running</small>" if t.confirm else "",
                    html.escape(t.definition.get("description", "")),
                    html.escape(json.dumps(body, indent=2)),
                )
            )
        if not rows:
            return f"<p>{html.escape(self.render_text())}</p>"
        head = "<tr><th>tool</th><th>description</th><th>schema</th></tr>"
        return f"<table>{head}{''.join(rows)}</table>"

    def _repr_html_(self) -> str:
        return self.render_table()

    def __repr__(self) -> str:
        return f"ToolSet({', '.join(self._tools)})"


def _type_label(schema: dict[str, Any]) -> str:
    """A short human label for a property schema: "integer", "array of string" ..."""
    if "enum" in schema:
        return "one of " + ", ".join(json.dumps(v) for v in schema["enum"])
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " or ".join(_type_label(s) for s in schema["anyOf"])
    kind = schema.get("type")
    if kind == "array" and isinstance(schema.get("items"), dict):
        return f"array of {_type_label(schema['items'])}"
    if kind == "object" and isinstance(schema.get("properties"), dict):
        return "object {" + ", ".join(schema["properties"]) + "}"
    if isinstance(kind, list):
        return " or ".join(kind)
    return kind or "any"


def _tool_text(t: Tool) -> str:
    lines = [t.name + ("  (asks before running)" if t.confirm else "")]
    if t.definition.get("description"):
        lines.append(f"    {t.definition['description']}")
    schema = t.definition.get("input_schema")
    if schema is None:  # a built-in tool type (computer use)
        extra = {k: v for k, v in t.definition.items() if k not in ("name", "description")}
        lines.append(f"    {json.dumps(extra)}")
        return "\n".join(lines)
    required = set(schema.get("required", ()))
    for name, prop in schema.get("properties", {}).items():
        notes = [_type_label(prop)]
        if name in required:
            notes.append("required")
        if "default" in prop:
            notes.append(f"default {json.dumps(prop['default'])}")
        text = f"    {name}: {', '.join(notes)}"
        if prop.get("description"):
            text += f" — {prop['description']}"
        lines.append(text)
    return "\n".join(lines)


def tool_choice_for(option: str | None, toolset: ToolSet) -> dict[str, Any] | None:
    """The request's tool_choice for `--tool-choice auto|any|none|NAME` (None: not given)."""
    if option is None or not option.strip():
        return None
    value = option.strip()
    if value in ("auto", "any", "none"):
        return {"type": value}
    if value not in toolset:
        available = ", ".join(toolset.names) or "none (pass --tools)"
        raise ToolDefinitionError(f"--tool-choice {value}: no tool of that name; tools: {available}.")
    return {"type": "tool", "name": value}


# --------------------------------------------------------------------------- approval


def stdin_available(shell: Any = None) -> bool:
    """Whether someone can answer `input()` here: in a kernel, whether the frontend allows
    stdin (nbclient and papermill don't); in plain Python, whether stdin is a terminal.
    Without `shell`, the running IPython shell (if any) is used."""
    if shell is None:
        ipython = sys.modules.get("IPython")
        shell = ipython.get_ipython() if ipython is not None else None
    kernel = getattr(shell, "kernel", None)
    if kernel is not None:
        return bool(getattr(kernel, "_allow_stdin", False))
    stdin = sys.stdin
    try:
        return stdin is not None and stdin.isatty()
    except (AttributeError, ValueError):
        return False


def _ask_with_input(prompt: str) -> str:
    return builtins.input(prompt)  # looked up at call time: ipykernel swaps it per request


def _brief_json(value: Any, limit: int = 400) -> str:
    text = json.dumps(value, ensure_ascii=False, default=repr)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class Approver:
    """Asks the user before tools marked `confirm=True` (and computer-use tools) run."""

    auto_approve: bool = False
    stdin_available: Callable[[], bool] = stdin_available
    ask: Callable[[str], str] = _ask_with_input

    def refusal(self, name: str, tool_input: Any) -> str | None:
        """None when the call may run; otherwise what to tell the model."""
        if self.auto_approve:
            return None
        if not self.stdin_available():
            return NO_ONE_TO_ASK
        try:
            answer = self.ask(f"Run tool {name} with {_brief_json(tool_input)}? [y/N] ")
        except EOFError:
            return NO_ONE_TO_ASK
        except Exception as exc:
            if type(exc).__name__ == "StdinNotImplementedError":
                return NO_ONE_TO_ASK
            raise
        return None if str(answer).strip().lower() in ("y", "yes") else DECLINED


# --------------------------------------------------------------------------- results


def _truncate(text: str, limit: int = MAX_RESULT_CHARS) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n… [output truncated: {len(text):,} characters, showing the first {limit:,}]"


def _module_of(obj: Any) -> str:
    return type(obj).__module__ or ""


def _is_image_like(obj: Any) -> bool:
    module = _module_of(obj)
    if module.startswith("matplotlib") and (hasattr(obj, "savefig") or hasattr(getattr(obj, "figure", None), "savefig")):
        return True
    if module.startswith("PIL.") and hasattr(obj, "save") and hasattr(obj, "size"):
        return True
    if module == "numpy" and type(obj).__name__ == "ndarray":
        shape, dtype = getattr(obj, "shape", ()), str(getattr(obj, "dtype", ""))
        if dtype != "uint8":
            return False
        return (len(shape) == 3 and shape[2] in (3, 4)) or (len(shape) == 2 and min(shape) >= 8)
    if isinstance(obj, (bytes, bytearray)):
        from .images import sniff_format

        return sniff_format(bytes(obj)) in ("PNG", "JPEG", "GIF", "WEBP")
    return module.startswith("IPython") and type(obj).__name__ == "Image" and isinstance(getattr(obj, "data", None), bytes)


def image_content(obj: Any) -> Block:
    """An image block for an image-like object, sized and encoded for the API."""
    from .images import image_from_object, prepare_image

    return prepare_image(image_from_object(obj)).to_block()


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, (bool, int, float, list, dict)):
        try:
            return json.dumps(value, ensure_ascii=False)
        except (TypeError, ValueError):
            pass
    return repr(value)


def result_content(value: Any) -> str | list[Block]:
    """A tool's return value as tool_result content: text, or image blocks for images."""
    if isinstance(value, list) and value and all(
        isinstance(b, dict) and b.get("type") in ("text", "image") for b in value
    ):  # already content blocks (the computer-use tools answer so)
        return [text_block(_truncate(b["text"]) or "(empty)") if b["type"] == "text" else b for b in value]
    if _is_image_like(value):
        return [image_content(value)]
    if isinstance(value, (list, tuple)) and any(_is_image_like(v) for v in value):
        return [image_content(v) if _is_image_like(v) else text_block(_truncate(_as_text(v)) or "(empty)")
                for v in value]
    text = _truncate(_as_text(value))
    return text if text.strip() else "(no output)"


_PLUMBING = {__file__, _tool_schema_module.__file__}


def _short_traceback(exc: BaseException) -> str:
    """The last few frames of the tool's own code, and the exception line."""
    frames = traceback.extract_tb(exc.__traceback__)
    frames = [f for f in frames if f.filename not in _PLUMBING][-4:]
    lines = ["Traceback (most recent call last):\n", *traceback.format_list(frames)]
    lines += traceback.format_exception_only(type(exc), exc)
    return _truncate("".join(lines).rstrip(), 4000)


def run_tool(tool_use: Block, toolset: ToolSet, approver: Approver) -> Block:
    """Run one `tool_use` block and return its `tool_result` block (never raises,
    except KeyboardInterrupt)."""
    use_id, name = tool_use.get("id", ""), tool_use.get("name", "")
    tool_input = tool_use.get("input")
    tool_input = tool_input if isinstance(tool_input, dict) else {}
    found = toolset.get(name)
    if found is None:
        available = ", ".join(toolset.names) or "none"
        return tool_result_block(use_id, f"Unknown tool {name!r}. Available tools: {available}.", is_error=True)
    if found.confirm:
        refusal = approver.refusal(name, tool_input)
        if refusal:
            return tool_result_block(use_id, refusal, is_error=True)
    try:
        value = found.handler(tool_input)
    except ToolError as exc:
        return tool_result_block(use_id, str(exc) or type(exc).__name__, is_error=True)
    except (Exception, SystemExit) as exc:
        return tool_result_block(use_id, _short_traceback(exc), is_error=True)
    try:
        return tool_result_block(use_id, result_content(value))
    except Exception as exc:  # e.g. an array that is no image after all
        note = f"\n(could not be sent as an image: {exc})"
        return tool_result_block(use_id, _truncate(repr(value)) + note)


# --------------------------------------------------------------------------- the loop


@dataclass
class LoopResult:
    """What a tool loop adds to the conversation: the assistant replies, and after
    each reply that called tools, the tool_result blocks answering it.

    `messages` are the wire messages (assistant, user with results, ..., assistant).
    When the loop stopped early (step limit, interrupt) they end with a user message
    of tool results, so no tool_use is left unanswered: the next user turn's content
    must then be appended to that last message.
    """

    replies: list[Message] = field(default_factory=list)
    results: list[list[Block]] = field(default_factory=list)  # results[i] answers replies[i]
    steps: int = 0  # rounds of tool calls that were run
    stopped_at_max_steps: bool = False
    notice: str | None = None

    @property
    def messages(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for i, reply in enumerate(self.replies):
            content = _history_content(reply.content)
            if content:
                out.append({"role": "assistant", "content": content})
            if i < len(self.results):
                out.append({"role": "user", "content": self.results[i]})
        return out

    def as_messages(self) -> list[Message]:
        """Replies and result messages (role "user") in order, for `Turn.complete`."""
        out: list[Message] = []
        for i, reply in enumerate(self.replies):
            out.append(reply)
            if i < len(self.results):
                out.append(Message(content=self.results[i], role="user"))
        return out

    @property
    def final(self) -> Message | None:
        return self.replies[-1] if self.replies else None

    @property
    def ends_with_user(self) -> bool:
        messages = self.messages
        return bool(messages) and messages[-1]["role"] == "user"

    @property
    def usage(self) -> Usage:
        return Usage.total(reply.usage for reply in self.replies)


class ToolLoopInterrupted(KeyboardInterrupt):
    """A KeyboardInterrupt during the tool loop; `.result` holds what to keep (every
    tool_use in it answered; a reply that was still streaming is not in it)."""

    def __init__(self, result: LoopResult) -> None:
        super().__init__()
        self.result = result


def _history_content(blocks: list[Block]) -> list[Block]:
    """Assistant content fit to send back: no whitespace-only text blocks (the API
    rejects them), no private keys."""
    return [
        {k: v for k, v in b.items() if not k.startswith("_")}
        for b in blocks
        if not (b.get("type") == "text" and not str(b.get("text", "")).strip())
    ]


def run_tool_loop(
    send: Callable[[list[dict[str, Any]], dict[str, Any] | None], Message],
    messages: list[dict[str, Any]],
    toolset: ToolSet,
    approver: Approver,
    *,
    tool_choice: dict[str, Any] | None = None,
    max_steps: int = 10,
    on_call: Callable[[Block], None] | None = None,
    on_result: Callable[[Block, Block], None] | None = None,
) -> LoopResult:
    """Send, run the tools the reply asks for, send their results, until a reply asks
    for none or `max_steps` rounds have run.

    `send(messages, tool_choice)` performs one request and returns the assistant
    Message; `tool_choice` goes to the first request only (later ones get None: the
    default, auto). Results follow the order of the tool_use blocks. Tool calls past
    the step limit are answered "Not run: the step limit was reached." On
    KeyboardInterrupt the current reply's tool calls are all answered (finished ones
    with their result, the rest as interrupted) and `ToolLoopInterrupted` is raised,
    carrying the result so far; a reply that was still streaming is dropped.
    """
    result = LoopResult()
    choice = tool_choice
    while True:
        try:
            reply = send([*messages, *result.messages], choice)
        except KeyboardInterrupt as exc:
            raise ToolLoopInterrupted(result) from exc
        choice = None
        result.replies.append(reply)
        uses = [b for b in _history_content(reply.content) if b.get("type") == "tool_use"]
        if not uses:
            return result
        if result.steps >= max_steps:
            answers = [tool_result_block(u["id"], STEP_LIMIT_REACHED, is_error=True) for u in uses]
            result.results.append(answers)
            for use, answer in zip(uses, answers, strict=True):
                if on_result:
                    on_result(use, answer)
            result.stopped_at_max_steps = True
            result.notice = f"Stopped after {result.steps} tool steps (--max-steps)."
            return result
        result.steps += 1
        answers = []
        result.results.append(answers)
        try:
            for use in uses:
                if on_call:
                    on_call(use)
                answer = run_tool(use, toolset, approver)
                answers.append(answer)
                if on_result:
                    on_result(use, answer)
        except KeyboardInterrupt as exc:
            pending = uses[len(answers):]
            answers += [
                tool_result_block(u["id"], INTERRUPTED if i == 0 else NOT_RUN_INTERRUPTED, is_error=True)
                for i, u in enumerate(pending)
            ]
            raise ToolLoopInterrupted(result) from exc
