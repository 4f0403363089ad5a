"""`%%claude` and `%claude`: the thin adapter between IPython and the package. It holds
the configuration traits and the cell's `@argument` help, parses the line and hands
over: a cell to `cell.run_cell` (or `many.run_map_cell`), a line to the command
registry. No other module imports it. The cell pipeline is imported when the first
cell runs (the warm-up thread usually has it by then): it loads the model catalogue,
which `%load_ext` leaves alone so that loading stays instant."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from typing import Any, TypeVar

from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments
from traitlets import Bool, Dict, Enum, Float, Int, List, Unicode, Union, default

from .commands import help_text, run_line
from .config import DEFAULTS as D
from .config import PACE_ENV, Config, env_pace
from .options import CellOptions
from .session import KernelSession, env_offline

F = TypeVar("F", bound=Callable[..., Any])


def _described(text: str) -> Callable[[F], F]:
    """Give the magic its description (argparse's help adds the options below it)."""

    def describe(func: F) -> F:
        func.__doc__ = text
        return func

    return describe


CELL_HELP = """Ask Claude on Amazon Bedrock. The cell body is the prompt.

`{name}` in the body is replaced by the value of variable `name` (bound
identifiers only, nothing is evaluated; other braces, and code, stay as typed).

""" + help_text()


@magics_class
class ClaudeMagic(Magics):
    """Talk to Claude on Amazon Bedrock from notebook cells."""

    model = Unicode(D.model, help="Model alias, model id, inference-profile id or ARN.").tag(
        config=True
    )
    region = Unicode(
        None, allow_none=True, help="AWS region (default: boto3's chain, then us-east-1)."
    ).tag(config=True)
    geography = Enum(
        ["auto", "us", "eu", "jp", "au", "apac", "global"],
        D.geography,
        help="Inference-profile geography for aliases (auto: the region's, if the "
        "model has it, else global).",
    ).tag(config=True)
    profile = Unicode(None, allow_none=True, help="AWS profile name (default: boto3's chain).").tag(
        config=True
    )
    endpoint_url = Unicode(
        None, allow_none=True, help="bedrock-runtime endpoint (an emulator or proxy)."
    ).tag(config=True)
    max_tokens = Int(D.max_tokens, help="Default max_tokens for a reply.").tag(config=True)
    temperature = Float(None, allow_none=True, help="Default temperature (0–1).").tag(config=True)
    top_p = Float(None, allow_none=True, help="Default top_p (0–1).").tag(config=True)
    top_k = Int(None, allow_none=True, help="Default top_k (0–500).").tag(config=True)
    system = Unicode(None, allow_none=True, help="Default system prompt.").tag(config=True)
    stream = Bool(D.stream, help="Stream replies (InvokeModelWithResponseStream).").tag(config=True)
    api = Enum(
        ["invoke", "converse", "mantle"],
        D.api,
        help="Bedrock API for cells: InvokeModel (and "
        "its stream), Converse / ConverseStream, or mantle: the Messages API on bedrock-mantle "
        "(model ids without a geography prefix; base URL $ANTHROPIC_BEDROCK_MANTLE_BASE_URL).",
    ).tag(config=True)
    guardrail_id = Unicode(
        None,
        allow_none=True,
        help="Bedrock guardrail identifier (or ARN) applied to every request.",
    ).tag(config=True)
    guardrail_version = Unicode(
        None, allow_none=True, help="The guardrail's version: a number or DRAFT."
    ).tag(config=True)
    retry_mode = Enum(
        ["legacy", "standard", "adaptive"], D.retry_mode, help="botocore retry mode."
    ).tag(config=True)
    max_attempts = Int(D.max_attempts, help="botocore attempts per request, retries included.").tag(
        config=True
    )
    read_timeout = Float(D.read_timeout, help="Seconds to wait for data from Bedrock.").tag(
        config=True
    )
    offline = Bool(D.offline, help="Use the built-in Bedrock emulator instead of AWS.").tag(
        config=True
    )
    offline_pace = Float(
        None,
        allow_none=True,
        help=f"Tokens per second for the built-in emulator (default: ${PACE_ENV}, else unlimited).",
    ).tag(config=True)
    tools: List[Any] = List(
        [], help="Functions (or their names) offered to Claude as tools in every cell."
    ).tag(config=True)
    mcp_servers = Union(
        [Dict(), Unicode()],
        default_value=D.mcp_servers,
        allow_none=True,
        help="MCP servers for --mcp: a dict as .mcp.json and Claude Desktop write it "
        "(the servers, or {'mcpServers': ...}), or the path of such a JSON file.",
    ).tag(config=True)
    auto_approve_tools = Bool(
        D.auto_approve_tools, help="Run tools that ask for approval without asking."
    ).tag(config=True)
    background = Bool(
        D.background,
        help="Answer every cell in the background, as with --background "
        "(cells with tools still answer in the foreground).",
    ).tag(config=True)
    max_steps = Int(D.max_steps, help="Most tool-loop steps per cell.").tag(config=True)
    agent_mode = Enum(
        ["ask", "plan", "auto"],
        D.agent_mode,
        help="How an agent cell (--agent) runs code: ask before each step, plan "
        "(read only, no code runs) or auto (run without asking).",
    ).tag(config=True)
    agent_step_timeout = Float(
        D.agent_step_timeout, help="Seconds an agent step may run before it is interrupted."
    ).tag(config=True)
    effort = Enum(
        ["low", "medium", "high", "xhigh", "max"],
        None,
        allow_none=True,
        help="Default thinking effort (--effort); None: the model's default.",
    ).tag(config=True)
    cache = Bool(
        D.cache, help="Prompt caching: cache_control breakpoints on models that cache."
    ).tag(config=True)
    cache_ttl = Enum(
        ["5m", "1h"], D.cache_ttl, help="How long cached prefixes live (1h costs more to write)."
    ).tag(config=True)
    max_image_edge = Int(
        D.max_image_edge, help="Images are downscaled so their long edge is at most this."
    ).tag(config=True)
    max_recorded_cells = Int(
        D.max_recorded_cells, help="Cells whose outputs are remembered for --image."
    ).tag(config=True)
    max_recorded_image_mb = Int(
        D.max_recorded_image_mb, help="Megabytes of images remembered for --image."
    ).tag(config=True)
    context_max_chars = Int(
        D.context_max_chars,
        help="Characters of each cell (--above, fix) or variable (--var) "
        "sent as context; longer ones are cut in the middle.",
    ).tag(config=True)
    cache_dir = Unicode(
        None,
        allow_none=True,
        help="Folder of the answer cache of claude_magic.map "
        "(default: $CLAUDE_MAGIC_CACHE_DIR, else ~/.cache/claude-magic).",
    ).tag(config=True)
    context_clear_at = Int(
        D.context_clear_at,
        allow_none=True,
        help="In cells with tools, Bedrock "
        "clears old tool results once a request passes this many input tokens (the "
        "newest are kept; context editing, InvokeModel and mantle); None or 0: never.",
    ).tag(config=True)
    compact_at = Int(
        D.compact_at,
        allow_none=True,
        help="Bedrock compacts a chat (summarises its earlier "
        "turns) once a request passes this many input tokens (at least 50,000); None: near "
        "the window; 0: never, leave out the oldest turns instead.",
    ).tag(config=True)
    cite = Bool(D.cite, help="Citations on attached documents in every cell, as with --cite.").tag(
        config=True
    )

    @default("offline_pace")
    def _offline_pace_from_env(self) -> float | None:
        return env_pace()

    def __init__(self, shell: InteractiveShell) -> None:
        super().__init__(shell=shell)
        if env_offline():
            self.offline = True
        self.session = KernelSession(shell, self)
        self.session.cell_help = self.claude.__doc__ or ""

    # -- the configuration, as the session reads and changes it

    def current_config(self) -> Config:
        return Config.of(self)

    def set_config(self, **changes: Any) -> None:
        for name, value in changes.items():
            setattr(self, name, value)

    # -- the magic -------------------------------------------------------------------

    @no_var_expand
    @magic_arguments()
    @_described(CELL_HELP)
    @argument(
        "-m",
        "--model",
        metavar="NAME",
        help="alias (sonnet, opus, haiku, fable, sonnet-4.5, opus-4.7, ...), model id, inference-profile id or ARN",
    )
    @argument("-s", "--system", metavar="TEXT", help="system prompt for this request")
    @argument("--max-tokens", type=int, metavar="N", help="most tokens in the reply")
    @argument("-t", "--temperature", type=float, metavar="X", help="sampling temperature, 0–1")
    @argument("--top-p", type=float, metavar="X", help="nucleus sampling, 0–1")
    @argument("--top-k", type=int, metavar="K", help="sample from the top K tokens, 0–500")
    @argument(
        "--stop", action="append", default=[], metavar="TEXT", help="stop sequence (repeatable)"
    )
    @argument("--prefill", metavar="TEXT", help="start of the answer; Claude continues from it")
    @argument(
        "--effort",
        choices=["low", "medium", "high", "xhigh", "max"],
        help="how hard Claude thinks: adaptive effort, or a thinking budget per level",
    )
    @argument(
        "--think",
        type=int,
        metavar="N",
        help="think with a budget of N tokens (models that take one)",
    )
    @argument("--no-think", action="store_true", help="turn thinking off where the model allows it")
    @argument("--no-cache", action="store_true", help="send no prompt-caching breakpoints")
    @argument("--chat", metavar="NAME", help="use the named conversation (default: 'default')")
    @argument("--new", action="store_true", help="start the conversation afresh")
    @argument(
        "--no-history", action="store_true", help="one-off question: send no history, keep none"
    )
    @argument("--no-stream", action="store_true", help="wait for the whole answer (InvokeModel)")
    @argument("-o", "--out", metavar="VAR", help="store the answer's text in variable VAR")
    @argument(
        "--json",
        metavar="SCHEMA",
        help="structured answer: a JSON Schema dict, pydantic model, "
        "dataclass or TypedDict in the namespace; --out VAR gets the data",
    )
    @argument(
        "--code",
        action="store_true",
        help="put the answer's Python code blocks into a new cell below",
    )
    @argument(
        "--beta",
        action="append",
        default=[],
        metavar="NAME",
        help="anthropic_beta flag (repeatable)",
    )
    @argument(
        "--image",
        action="append",
        default=[],
        metavar="SOURCE",
        help="attach images: N, Out[N], N:k, _ (latest plot), a variable, a path or glob (repeatable)",
    )
    @argument(
        "--cell",
        action="append",
        default=[],
        type=int,
        metavar="N",
        help="add cell [N]'s source and text output as context (repeatable)",
    )
    @argument(
        "--above",
        nargs="?",
        type=int,
        const=-1,
        default=None,
        metavar="N",
        help="add the source and text output of the N cells run before this one "
        "(default: those since this chat's last question) as context",
    )
    @argument(
        "--var",
        action="append",
        default=[],
        metavar="NAME",
        help="describe variable NAME as context: DataFrame shape, dtypes, head, describe; "
        "array shape, dtype, sample; else a short repr (repeatable)",
    )
    @argument(
        "--doc",
        action="append",
        default=[],
        metavar="PATH",
        help="attach a PDF or text document (repeatable)",
    )
    @argument(
        "--cite",
        action="store_true",
        help="cite the --doc documents: numbered markers in the answer, "
        "the cited passages below it (--out VAR: VAR.citations)",
    )
    @argument("--tools", metavar="F,G", help="offer these functions from the namespace as tools")
    @argument(
        "--mcp",
        metavar="NAME[,NAME]",
        help="offer the tools of these MCP servers (started on first use; see %%claude mcp)",
    )
    @argument(
        "--tool-choice", metavar="auto|any|none|NAME", help="how the first request may use tools"
    )
    @argument("--max-steps", type=int, metavar="N", help="most tool-loop steps (default 10)")
    @argument(
        "--computer-use",
        action="store_true",
        help="offer the computer-use beta tools (bash, editor, screen)",
    )
    @argument(
        "--agent",
        nargs="?",
        const="",
        default=None,
        metavar="MODE",
        help="agent cell: Claude reads the notebook and runs code in cells below, "
        "asking first (MODE ask, the default), read-only (plan) or without asking (auto)",
    )
    @argument(
        "-b",
        "--background",
        action="store_true",
        help="return at once; the answer streams into this cell while other cells run",
    )
    @argument(
        "--map",
        metavar="VAR",
        help="ask once per row of VAR (list, Series, DataFrame); the body is the template",
    )
    @argument(
        "--concurrency", type=int, metavar="N", help="requests at once with --map (default 8)"
    )
    @line_cell_magic
    def claude(self, line: str, cell: str | None = None) -> Any:
        if cell is None:
            return run_line(self.session, line)
        options = parse_options(self.claude, line)
        if options.map or options.concurrency is not None:
            if options.agent is not None:
                raise UsageError("--agent can't be combined with --map: drop one of them.")
            from .many import run_map_cell

            return run_map_cell(self.session, options, cell)
        from .cell import run_cell

        return run_cell(self.session, options, cell)


def parse_options(magic_func: Any, line: str) -> CellOptions:
    """Parse the option line with shell quoting (quotes removed, as users expect)."""
    try:
        argv = shlex.split(line)
    except ValueError as exc:
        raise UsageError(f"Could not read the options: {exc}.") from None
    return CellOptions.from_namespace(magic_func.parser.parse_args(argv))


def load(shell: InteractiveShell) -> ClaudeMagic:
    magic = ClaudeMagic(shell)
    shell.register_magics(magic)
    magic.session.frontend.announce()  # JupyterLab with claude-magic's extension answers
    return magic


def unload(shell: InteractiveShell, magic: ClaudeMagic) -> None:
    magic.session.close()
    manager = shell.magics_manager
    for kind in ("line", "cell"):
        table = manager.magics[kind]
        if table.get("claude") is not None and getattr(table["claude"], "__self__", None) is magic:
            del table["claude"]
    manager.registry.pop(type(magic).__name__, None)
    configurables: list[Any] = shell.configurables
    if magic in configurables:
        configurables.remove(magic)
