"""The Python API for many prompts: `claude_magic.ask`, `claude_magic.map`,
`batch_jobs` and `stop_batch`, and the `%%claude --map VAR` cell.

When the magic is loaded in the running kernel, its configuration (model, region,
endpoint, max_tokens, system, cache_dir, offline emulator) is the default and `chat=`
joins its conversations; without it, boto3's own configuration and the environment
variables apply.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..bedrock.ask import answer_source, ask_once, user_content
from ..core.errors import ClaudeMagicError
from ..core.reply import Reply, summary_line
from ..core.rows import aligned, prompts_for, rows_of
from .ask_options import make_spec
from .config import DEFAULTS, Config
from .options import CellOptions
from .session import KernelSession, session_of

if TYPE_CHECKING:
    from ..bedrock.settings import ClientSettings

BACKENDS = ("threads", "batch")
_emulator: Any = None  # started for CLAUDE_MAGIC_OFFLINE=1 when the magic isn't loaded


def _session() -> KernelSession | None:
    """The session of the running IPython shell, if the extension is loaded there."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return None
    return session_of(get_ipython())


def _context() -> tuple[ClientSettings, Config, KernelSession | None]:
    """(client settings, configuration, session or None)."""
    session = _session()
    if session is not None:
        config = session.config()
        return session.client_settings(config), config, session
    from ..bedrock.settings import ClientSettings, settings_from_env

    settings = settings_from_env(ClientSettings())
    if settings.offline and not settings.endpoint_url:
        global _emulator
        if _emulator is None:
            from ..emulator import Emulator

            _emulator = Emulator().start()
        settings = replace(settings, endpoint_url=_emulator.url)
    return settings, DEFAULTS, None


def _client(settings: ClientSettings, session: KernelSession | None) -> Any:
    if session is not None:
        return session.client(settings)
    from ..bedrock.client import client_for

    return client_for(settings)


def _region(settings: Any) -> str:
    from ..bedrock.settings import effective_region

    return effective_region(settings)


def ask(
    prompt: Any,
    *,
    model: str | None = None,
    system: str | None = None,
    max_tokens: int | None = None,
    effort: str | None = None,
    images: Any = (),
    json: Any = None,
    chat: str | None = None,
    **options: Any,
) -> Reply:
    """Ask Claude once, from Python; the same options, retries and errors as a cell.

    `effort` ("low" … "max") asks for adaptive thinking at that effort; `json` (a JSON
    Schema dict or a pydantic model class) asks for structured output, parsed into
    `reply.data`; `images` are notebook image objects (figures, PIL images, arrays,
    bytes, paths); `chat` names a conversation of the loaded magic to continue. Other
    options: temperature, top_p, top_k, stop_sequences, betas, thinking, tools,
    tool_choice, prefill, and api ("invoke", "converse" or "mantle"; default: the
    configured `ClaudeMagic.api`). Raises ClaudeMagicError (one line) when the request fails.
    """
    settings, config, session = _context()
    spec = make_spec(
        config,
        _region(settings),
        model=model,
        system=system,
        max_tokens=max_tokens,
        effort=effort,
        json=json,
        **options,
    )
    content = user_content(prompt, images, max_edge=config.max_image_edge)
    conversation = None
    if chat is not None:
        if session is None:
            raise ClaudeMagicError(
                "chat= joins a conversation of the %%claude magic: run "
                "%load_ext claude_magic first."
            )
        conversation = session.chats.get(chat)
    return ask_once(_client(settings, session), spec, content, conversation)


def map(
    items: Any,
    prompt: Any = None,
    *,
    concurrency: int = 8,
    backend: str = "threads",
    cache: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
    model: str | None = None,
    system: str | None = None,
    max_tokens: int | None = None,
    effort: str | None = None,
    json: Any = None,
    progress: bool = True,
    s3_uri: str | None = None,
    role_arn: str | None = None,
    poll_interval: float | None = None,
    retry_mode: str | None = None,
    **options: Any,
) -> Any:
    """Ask once per row of `items` (a list, a pandas Series or a DataFrame).

    `prompt` is a template whose `{name}` fields come from the row (DataFrame columns,
    a dict's keys, `{item}`, `{index}`), or a function of the row; without it each item
    is the prompt. Returns replies aligned with the input: a list, or a Series with the
    input's index (`.to_frame()` gives text, tokens, cost and error columns). A row's
    failure is kept in its reply; answers are cached (by endpoint, model and body) so
    running the same map again sends only what is missing. Rows go on the configured route
    (`api=` as in `ask`). `backend="batch"` runs the rows as a Bedrock batch inference job
    of InvokeModel requests (`s3_uri=`, `role_arn=`). `retry_mode` is botocore's
    (default: the configured one, "standard"); the pool's own concurrency shrinks on
    throttling either way.
    """
    if backend not in BACKENDS:
        raise ClaudeMagicError(f"backend must be 'threads' or 'batch', not {backend!r}.")
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ClaudeMagicError(f"concurrency must be a positive integer, not {concurrency!r}.")
    if backend == "batch":  # a batch inference job takes InvokeModel bodies, whatever the route
        if options.get("api") not in (None, "invoke"):
            raise ClaudeMagicError(
                "backend='batch' runs a Bedrock batch inference job of InvokeModel requests: "
                "drop api= (or use backend='threads')."
            )
        options["api"] = "invoke"
    settings, config, session = _context()
    spec = make_spec(
        config,
        _region(settings),
        model=model,
        system=system,
        max_tokens=max_tokens,
        effort=effort,
        json=json,
        **options,
    )
    rows = rows_of(items)
    contents = [
        user_content(p) if not isinstance(p, list) else p for p in prompts_for(rows, prompt)
    ]
    store = _cache(cache, cache_dir, config)
    from ..bedrock.many import prepare

    prepared = prepare(spec, contents, store, source=_source(settings, session, spec.api))
    started = time.monotonic()
    if backend == "batch":
        from ..bedrock.batch import map_batch

        interrupted = map_batch(
            settings,
            spec,
            prepared,
            cache=store,
            s3_uri=s3_uri,
            role_arn=role_arn,
            poll_interval=poll_interval,
            report=print if progress else None,
        )
    else:
        from ..bedrock.many import map_threads

        settings = replace(
            settings,
            retry_mode=retry_mode or settings.retry_mode,
            max_pool_connections=max(settings.max_pool_connections, concurrency + 2),
        )
        interrupted = map_threads(
            _client(settings, session),
            spec,
            prepared,
            concurrency=concurrency,
            cache=store,
            progress=Bar() if progress else None,
        )
    replies = [
        r if r is not None else Reply.failed("not sent: interrupted", model=spec.invoke_id)
        for r in prepared.replies
    ]
    if interrupted:
        done = sum(1 for r in prepared.replies if r is not None)
        print(
            f"claude-magic: interrupted after {done} of {len(replies)} rows "
            f"({time.monotonic() - started:.0f} s); run the same map again to send only the rest."
        )
    return aligned(rows, replies)


def _source(settings: ClientSettings, session: KernelSession | None, api: str) -> dict[str, Any]:
    """Where this map's answers come from: the cache gives back only answers from there."""
    from ..models.routes import route

    emulator = session.emulator if session is not None else _emulator
    built_in = settings.offline and emulator is not None and settings.endpoint_url == emulator.url
    return answer_source(settings, built_in_emulator=built_in, api=route(api).title)


def _cache(enabled: bool, folder: Any, config: Config) -> Any:
    if not enabled:
        return None
    from ..bedrock.cache import cache_at

    return cache_at(folder if folder is not None else config.cache_dir or None)


def batch_jobs(cache_dir: str | os.PathLike[str] | None = None) -> list[Any]:
    """The batch jobs `map(..., backend="batch")` submitted, with their state now."""
    from ..bedrock.batch import list_jobs

    settings, config, _ = _context()
    return list_jobs(settings, _cache(True, cache_dir, config))


def stop_batch(job: Any) -> str:
    """Stop a batch job (a job from `batch_jobs()`, its ARN or its id); its state after."""
    from ..bedrock.batch import stop_job

    settings, _, _ = _context()
    return stop_job(settings, job)


class Bar:
    """A tqdm.auto progress bar (an ipywidgets bar in notebooks) with failed rows,
    tokens and cost so far."""

    def __init__(self) -> None:
        self._bar: Any = None
        self.failed = 0
        self.tokens = 0
        self.cost = 0.0
        self._shown = 0.0

    def start(self, total: int, done: list[Reply]) -> None:
        from tqdm.auto import tqdm

        for reply in done:
            self._count(reply)
        self._bar = tqdm(total=total, initial=len(done), desc="claude", unit="row", mininterval=0.2)
        self._postfix(force=True)

    def _count(self, reply: Reply) -> None:
        self.failed += reply.error is not None
        self.tokens += reply.usage.input_tokens + reply.usage.output_tokens
        self.cost += reply.cost or 0.0

    def _postfix(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._shown >= 0.2:
            self._shown = now
            self._bar.set_postfix_str(
                f"failed={self.failed} tokens={self.tokens:,} ${self.cost:.4f}", refresh=force
            )

    def update(self, reply: Reply) -> None:
        self._count(reply)
        self._bar.update(1)
        self._postfix()

    def close(self) -> None:
        if self._bar is not None:
            self._postfix(force=True)
            self._bar.close()


def run_map_cell(session: KernelSession, args: CellOptions, cell: str) -> None:
    """`%%claude --map VAR [--out RESULT] [--concurrency N]`: the body is the template."""
    if not args.map:
        raise ClaudeMagicError("--concurrency applies to --map VAR cells only.")
    unused = [
        flag
        for flag, value in (
            ("--image", args.image),
            ("--cell", args.cell),
            ("--doc", args.doc),
            ("--tools", args.tools),
            ("--tool-choice", args.tool_choice),
            ("--computer-use", args.computer_use),
            ("--prefill", args.prefill),
            ("--chat", args.chat),
            ("--new", args.new),
            ("--no-history", args.no_history),
            ("--code", args.code),
            ("--beta", args.beta),
            ("--max-steps", args.max_steps),
        )
        if value
    ]
    if unused:
        raise ClaudeMagicError(
            f"{unused[0]} doesn't combine with --map: each row is a one-off "
            "question (use -m, -s, --max-tokens, -t, --top-p, --top-k, --stop, "
            "-o, --concurrency)."
        )
    namespace = session.shell.user_ns
    if args.map not in namespace:
        raise ClaudeMagicError(f"--map {args.map}: no variable {args.map!r} in the notebook.")
    template = cell.strip()
    if not template:
        raise ClaudeMagicError(
            "The cell is empty: write the prompt template below %%claude --map VAR."
        )
    options: dict[str, Any] = {
        k: v
        for k, v in {
            "temperature": args.temperature,
            "top_p": args.top_p,
            "top_k": args.top_k,
            "stop_sequences": args.stop or None,
        }.items()
        if v is not None
    }
    result = map(
        namespace[args.map],
        template,
        concurrency=args.concurrency or 8,
        model=args.model,
        system=args.system,
        max_tokens=args.max_tokens,
        **options,
    )
    if args.out:
        namespace[args.out] = result
    replies = list(result)
    print(summary_line(replies))
    labels = list(result.index) if hasattr(result, "iloc") else list(range(len(replies)))
    for label, reply in list(zip(labels, replies, strict=True))[:5]:
        text = str(reply).replace("\n", " ")
        print(f"  [{label}] {text[:120] + '…' if len(text) > 120 else text}")
