"""`%%claude` and `%claude`: options, configuration traits, and line commands."""

from __future__ import annotations

import os
import shlex
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments
from traitlets import Bool, Enum, Float, Int, List, Unicode, default

from ..core.errors import ClaudeMagicError
from .session import ENDPOINT_ENV, KernelSession, env_offline

PACE_ENV = "CLAUDE_MAGIC_OFFLINE_PACE"
LINE_COMMANDS = (
    "history", "reset", "undo", "chats", "models", "config", "usage", "offline",
    "save", "load", "export", "tools", "jobs", "stop", "wait", "help",
    "fix",
)


@magics_class
class ClaudeMagic(Magics):
    """Talk to Claude on Amazon Bedrock from notebook cells."""

    model = Unicode("sonnet", help="Model alias, model id, inference-profile id or ARN.").tag(config=True)
    region = Unicode(None, allow_none=True, help="AWS region (default: boto3's chain, then us-east-1).").tag(config=True)
    geography = Enum(["auto", "us", "eu", "jp", "au", "apac", "global"], "auto",
                     help="Inference-profile geography for aliases (auto: the region's, if the "
                     "model has it, else global).").tag(config=True)
    profile = Unicode(None, allow_none=True, help="AWS profile name (default: boto3's chain).").tag(config=True)
    endpoint_url = Unicode(None, allow_none=True, help="bedrock-runtime endpoint (an emulator or proxy).").tag(config=True)
    max_tokens = Int(4096, help="Default max_tokens for a reply.").tag(config=True)
    temperature = Float(None, allow_none=True, help="Default temperature (0–1).").tag(config=True)
    top_p = Float(None, allow_none=True, help="Default top_p (0–1).").tag(config=True)
    top_k = Int(None, allow_none=True, help="Default top_k (0–500).").tag(config=True)
    system = Unicode(None, allow_none=True, help="Default system prompt.").tag(config=True)
    stream = Bool(True, help="Stream replies (InvokeModelWithResponseStream).").tag(config=True)
    api = Enum(["invoke", "converse"], "invoke", help="Bedrock API for cells: InvokeModel (and its "
               "stream) or Converse / ConverseStream.").tag(config=True)
    guardrail_id = Unicode(None, allow_none=True, help="Bedrock guardrail identifier (or ARN) "
                           "applied to every request.").tag(config=True)
    guardrail_version = Unicode(None, allow_none=True, help="The guardrail's version: a number "
                                "or DRAFT.").tag(config=True)
    retry_mode = Enum(["legacy", "standard", "adaptive"], "standard", help="botocore retry mode.").tag(config=True)
    max_attempts = Int(4, help="botocore attempts per request, retries included.").tag(config=True)
    read_timeout = Float(300.0, help="Seconds to wait for data from Bedrock.").tag(config=True)
    offline = Bool(False, help="Use the built-in Bedrock emulator instead of AWS.").tag(config=True)
    offline_pace = Float(None, allow_none=True, help="Tokens per second for the built-in emulator "
                         f"(default: ${PACE_ENV}, else unlimited).").tag(config=True)
    tools = List([], help="Functions (or their names) offered to Claude as tools in every cell.").tag(config=True)
    auto_approve_tools = Bool(False, help="Run tools that ask for approval without asking.").tag(config=True)
    background = Bool(False, help="Answer every cell in the background, as with --background "
                       "(cells with tools still answer in the foreground).").tag(config=True)
    max_steps = Int(10, help="Most tool-loop steps per cell.").tag(config=True)
    effort = Enum(["low", "medium", "high", "xhigh", "max"], None, allow_none=True,
                  help="Default thinking effort (--effort); None: the model's default.").tag(config=True)
    cache = Bool(True, help="Prompt caching: cache_control breakpoints on models that cache.").tag(config=True)
    cache_ttl = Enum(["5m", "1h"], "5m", help="How long cached prefixes live (1h costs more to write).").tag(config=True)
    max_image_edge = Int(1568, help="Images are downscaled so their long edge is at most this.").tag(config=True)
    max_recorded_cells = Int(100, help="Cells whose outputs are remembered for --image.").tag(config=True)
    max_recorded_image_mb = Int(256, help="Megabytes of images remembered for --image.").tag(config=True)
    context_max_chars = Int(4000, help="Characters of each cell (--above, fix) or variable (--var) "
                            "sent as context; longer ones are cut in the middle.").tag(config=True)
    cache_dir = Unicode(None, allow_none=True, help="Folder of the answer cache of claude_magic.map "
                        "(default: $CLAUDE_MAGIC_CACHE_DIR, else ~/.cache/claude-magic).").tag(config=True)

    @default("offline_pace")
    def _offline_pace_from_env(self) -> float | None:
        return env_pace()

    def __init__(self, shell: Any) -> None:
        super().__init__(shell=shell)
        if env_offline():
            self.offline = True
        self.session = KernelSession(
            shell,
            max_cells=self.max_recorded_cells,
            max_image_bytes=self.max_recorded_image_mb * 1024 * 1024,
        )

    # -- the magic -------------------------------------------------------------------

    @no_var_expand
    @magic_arguments()
    @argument("-m", "--model", help="alias (sonnet, opus, haiku, fable, sonnet-4.5, opus-4.7, ...), model id, inference-profile id or ARN")
    @argument("-s", "--system", help="system prompt for this request")
    @argument("--max-tokens", type=int, help="most tokens in the reply")
    @argument("-t", "--temperature", type=float, help="sampling temperature, 0–1")
    @argument("--top-p", type=float, help="nucleus sampling, 0–1")
    @argument("--top-k", type=int, help="sample from the top K tokens, 0–500")
    @argument("--stop", action="append", default=[], metavar="TEXT", help="stop sequence (repeatable)")
    @argument("--prefill", metavar="TEXT", help="start of the answer; Claude continues from it")
    @argument("--effort", choices=["low", "medium", "high", "xhigh", "max"],
              help="how hard Claude thinks: adaptive effort, or a thinking budget per level")
    @argument("--think", type=int, metavar="N", help="think with a budget of N tokens (models that take one)")
    @argument("--no-think", action="store_true", help="turn thinking off where the model allows it")
    @argument("--no-cache", action="store_true", help="send no prompt-caching breakpoints")
    @argument("--chat", metavar="NAME", help="use the named conversation (default: 'default')")
    @argument("--new", action="store_true", help="start the conversation afresh")
    @argument("--no-history", action="store_true", help="one-off question: send no history, keep none")
    @argument("--no-stream", action="store_true", help="wait for the whole answer (InvokeModel)")
    @argument("-o", "--out", metavar="VAR", help="store the answer's text in variable VAR")
    @argument("--json", metavar="SCHEMA", help="structured answer: a JSON Schema dict, pydantic model, "
              "dataclass or TypedDict in the namespace; --out VAR gets the data")
    @argument("--code", action="store_true", help="put the answer's Python code blocks into a new cell below")
    @argument("--beta", action="append", default=[], metavar="NAME", help="anthropic_beta flag (repeatable)")
    @argument("--image", action="append", default=[], metavar="SOURCE",
              help="attach images: N, Out[N], N:k, _ (latest plot), a variable, a path or glob (repeatable)")
    @argument("--cell", action="append", default=[], type=int, metavar="N",
              help="add cell [N]'s source and text output as context (repeatable)")
    @argument("--above", nargs="?", type=int, const=-1, default=None, metavar="N",
              help="add the source and text output of the N cells run before this one "
              "(default: those since this chat's last question) as context")
    @argument("--var", action="append", default=[], metavar="NAME",
              help="describe variable NAME as context: DataFrame shape, dtypes, head, describe; "
              "array shape, dtype, sample; else a short repr (repeatable)")
    @argument("--doc", action="append", default=[], metavar="PATH", help="attach a PDF or text document (repeatable)")
    @argument("--tools", metavar="F,G", help="offer these functions from the namespace as tools")
    @argument("--tool-choice", metavar="auto|any|none|NAME", help="how the first request may use tools")
    @argument("--max-steps", type=int, help="most tool-loop steps (default 10)")
    @argument("--computer-use", action="store_true", help="offer the computer-use beta tools (bash, editor, screen)")
    @argument("-b", "--background", action="store_true",
              help="return at once; the answer streams into this cell while other cells run")
    @argument("--map", metavar="VAR", help="ask once per row of VAR (list, Series, DataFrame); "
              "the body is the template")
    @argument("--concurrency", type=int, metavar="N", help="requests at once with --map (default 8)")
    @line_cell_magic
    def claude(self, line: str, cell: str | None = None) -> Any:
        """Ask Claude on Amazon Bedrock. The cell body is the prompt.

        `{name}` in the body is replaced by the value of variable `name` (bound
        identifiers only, nothing is evaluated; other braces, and code, stay as typed).

        Line commands (`%claude COMMAND`): history, reset [--chat NAME | --all],
        undo, chats, models [--refresh] [--all], config, usage, offline [--pace N],
        save FILE.json, load FILE.json, export FILE.ipynb, tools, jobs, stop [--chat NAME | --all],
        wait [--chat NAME] [--timeout S], help,
        fix [N] [--chat NAME] (send the last failed cell, or cell [N], with its error and
        put the corrected code in a new cell below).
        """
        if cell is None:
            return self._line_command(line)
        args = parse_options(self.claude, line)
        if args.map or args.concurrency is not None:
            from .many import run_map_cell

            return run_map_cell(self, args, cell)
        from .background import run_cell  # foreground cells too: they wait for their chat

        return run_cell(self, args, cell)

    # -- settings --------------------------------------------------------------------

    def client_settings(self) -> Any:
        """Effective client settings: traits, then environment, then offline mode."""
        from ..bedrock.settings import ClientSettings, boto_endpoint

        # CLAUDE_MAGIC_ENDPOINT_URL, else the trait, else boto3's AWS_ENDPOINT_URL_BEDROCK_RUNTIME
        # and AWS_ENDPOINT_URL (the order boto3 gives code and environment).
        endpoint = os.environ.get(ENDPOINT_ENV) or self.endpoint_url or boto_endpoint()
        offline = False
        if self.offline and not os.environ.get(ENDPOINT_ENV):
            endpoint = self.session.start_emulator(self.offline_pace).url
            offline = True
        return ClientSettings(
            region=self.region,
            profile=self.profile,
            endpoint_url=endpoint or None,
            retry_mode=self.retry_mode,
            max_attempts=self.max_attempts,
            read_timeout=self.read_timeout,
            offline=offline,
        )

    # -- line commands ---------------------------------------------------------------

    def _line_command(self, line: str) -> Any:
        try:
            words = shlex.split(line)
        except ValueError as exc:
            raise ClaudeMagicError(f"Could not read the command: {exc}.") from None
        if not words:
            raise ClaudeMagicError(
                "Use %%claude as a cell magic to ask, or %claude COMMAND with one of: "
                + ", ".join(LINE_COMMANDS) + "."
            )
        command, rest = words[0], words[1:]
        if command not in LINE_COMMANDS:
            raise ClaudeMagicError(
                f"Unknown command {command!r}: use one of " + ", ".join(LINE_COMMANDS) + "."
            )
        from . import commands

        return getattr(commands, f"cmd_{command}")(self, rest)


def env_pace() -> float | None:
    """`CLAUDE_MAGIC_OFFLINE_PACE` as tokens per second; unset, empty, not a number or
    below the emulator's minimum (0.01) means unlimited."""
    try:
        pace = float(os.environ.get(PACE_ENV, "").strip() or "nan")
    except ValueError:
        return None
    return pace if pace >= 0.01 else None


def parse_options(magic_func: Any, line: str) -> Any:
    """Parse the option line with shell quoting (quotes removed, as users expect)."""
    try:
        argv = shlex.split(line)
    except ValueError as exc:
        raise UsageError(f"Could not read the options: {exc}.") from None
    return magic_func.parser.parse_args(argv)


def load(shell: Any) -> ClaudeMagic:
    magic = ClaudeMagic(shell)
    shell.register_magics(magic)
    return magic


def unload(shell: Any, magic: ClaudeMagic) -> None:
    magic.session.close()
    manager = shell.magics_manager
    for kind in ("line", "cell"):
        table = manager.magics[kind]
        if table.get("claude") is not None and getattr(table["claude"], "__self__", None) is magic:
            del table["claude"]
    manager.registry.pop(type(magic).__name__, None)
    if magic in shell.configurables:
        shell.configurables.remove(magic)
