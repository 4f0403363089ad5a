"""Prepare: read a `%%claude` cell on the kernel's main thread (namespace, recorded
outputs, attachments, the running cell) into everything the later stages need, or
stop with one line before anything is sent."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..core.context_edits import COMPACT_BETA, CONTEXT_BETA, ContextPolicy
from ..core.errors import ClaudeMagicError
from ..core.messages import Block, text_block
from ..core.model_choice import resolve_model
from ..core.prompt import substitute_names
from ..core.request import RequestSpec
from ..models.routes import route, sendable
from .attachments import AttachmentError
from .config import Config
from .options import CellOptions
from .session import KernelSession

if TYPE_CHECKING:
    from ..bedrock.settings import ClientSettings
    from ..bedrock.shaping import Shaped
    from ..models import catalog
    from ..tools.toolset import ToolSet
    from .agent import AgentWorkspace
    from .attachments import AttachedImage
    from .structured_turn import StructuredPlan


@dataclass
class PreparedCell:
    """A cell's question, resolved: what `send`, `commit` and `deliver` need."""

    options: CellOptions
    config: Config
    settings: ClientSettings
    request: RequestSpec
    user_content: list[Block]
    images: list[AttachedImage]
    chat: str
    cell_id: str | None
    execution_count: int | None
    toolset: ToolSet | None
    notices: list[str] = field(default_factory=list)  # shown under the header
    plan: StructuredPlan | None = None  # --json: how the structured answer is asked for
    agent: AgentWorkspace | None = None  # --agent: what the agent's tools act on

    @property
    def resolved(self) -> catalog.Resolved:
        return self.request.resolved

    @property
    def model(self) -> catalog.Model | None:
        return self.request.resolved.model

    @property
    def image_labels(self) -> list[str]:
        return [image.label for image in self.images]

    def header(self) -> dict[str, Any]:
        """The view's header for this cell."""
        model = self.model
        return {
            "model": model.name if model else self.resolved.invoke_id,
            "model_id": self.resolved.invoke_id,
            "chat": self.chat,
            "offline": self.settings.offline,
            "images": [
                (image.prepared.thumbnail_png(), _image_caption(image), image.prepared.tokens)
                for image in self.images
            ],
        }


def prepare_cell(session: KernelSession, options: CellOptions, cell: str) -> PreparedCell:
    """Read the cell: options, model, prompt, attachments and tools, as a request."""
    config = session.config()
    settings = session.client_settings(config)
    region = settings.region or _default_region(settings)
    resolved = resolve_model(
        options.model or config.model, region, config.geography, offer=session.offer
    )
    resolved = route(config.api).resolved(resolved)  # the id this route takes
    model = resolved.model
    options.check_ranges()
    chat = options.chat or session.chats.default_name
    notices: list[str] = []
    images, user_content = _user_content(session, config, options, model, cell, chat, notices)

    toolset, betas, tool_choice = _tools(session, config, options, model)
    agent = None
    if options.agent is not None:
        from .agent import add_agent

        if options.json or options.prefill:
            raise ClaudeMagicError(
                "--agent can't be combined with --json or --prefill: drop one of them."
            )
        if model and not model.tools:
            raise ClaudeMagicError(
                f"{model.name} can't use tools, so it can't be an agent: "
                "pick another model, e.g. -m sonnet."
            )
        agent, toolset, agent_notices = add_agent(session, config, options, chat, toolset)
        notices += agent_notices
        betas = list(dict.fromkeys([*betas, *toolset.betas()]))
    shaped = shape_for(config, options, model)
    plan = _structured(session, options, route(config.api).model_view(model), shaped, toolset)
    tools = toolset.definitions() if toolset else []
    fields = shaped.fields
    if plan is not None:
        user_content = plan.user_content(user_content)
        tools, tool_choice, fields = plan.tools, plan.tool_choice, plan.fields(fields)
    from ..bedrock.shaping import thinking_betas

    sent_betas, refused = sendable(
        config.api,
        [*betas, *thinking_betas(model, shaped, bool(toolset)), *options.beta],
        options.beta,
    )
    notices += refused
    request = RequestSpec(
        resolved=resolved,
        region=region,
        max_tokens=shaped.max_tokens,
        system=_system(options, config, agent),
        temperature=_first(options.temperature, config.temperature),
        top_p=_first(options.top_p, config.top_p),
        top_k=_first(options.top_k, config.top_k),
        stop_sequences=options.stop,
        prefill=options.prefill,
        betas=sent_betas,
        stream=config.stream and not options.no_stream,
        tools=tools,
        tool_choice=tool_choice,
        api=config.api,
        guardrail=config.guardrail(),
        fields=fields,
        cache_ttl=None if options.no_cache else config.cache_breakpoints_ttl,
        context=context_policy(
            config,
            model,
            thinking="thinking" in fields and fields["thinking"].get("type") != "disabled",
            tools=bool(tools),
        ),
    )
    return PreparedCell(
        options=options,
        config=config,
        settings=settings,
        request=request,
        user_content=user_content,
        images=images,
        chat=chat,
        cell_id=session.cell.cell_id,
        execution_count=session.cell.execution_count,
        toolset=toolset,
        notices=notices,
        plan=plan,
        agent=agent,
    )


def _system(options: CellOptions, config: Config, agent: AgentWorkspace | None) -> str | None:
    system = options.system if options.system is not None else config.system
    if agent is None:
        return system
    from .agent import agent_system

    return agent_system(agent.mode, system)


def _user_content(
    session: KernelSession,
    config: Config,
    options: CellOptions,
    model: catalog.Model | None,
    cell: str,
    chat: str,
    notices: list[str],
) -> tuple[list[AttachedImage], list[Block]]:
    """The question's blocks: notebook context, cells, images and documents, then the
    prompt (with `{name}` substituted); the images for the header."""
    if model and options.image and not model.images:
        raise ClaudeMagicError(
            f"{model.name} can't read images: pick another model, e.g. -m sonnet."
        )
    text = substitute_names(cell, session.shell.user_ns).strip()
    images, contexts, documents = _attachments(session, config, options, model)
    if options.cite and not documents:
        raise ClaudeMagicError("--cite cites attached documents: add --doc PATH.")
    if options.cite or config.cite:
        documents = [{**document, "citations": {"enabled": True}} for document in documents]
    if not text and not images and not documents:
        raise ClaudeMagicError("The cell is empty: write your question below %%claude.")
    content: list[Block] = [text_block(c) for c in contexts]
    content += [image.prepared.to_block() for image in images] + documents
    if text:
        content.append(text_block(text))
    if options.wants_context:
        _add_notebook_context(session, config, options, chat, content, notices)
    return images, content


def _add_notebook_context(
    session: KernelSession,
    config: Config,
    options: CellOptions,
    chat: str,
    user_content: list[Block],
    notices: list[str],
) -> None:
    """--above, --var and %claude fix: their text blocks go first, a notice says what they hold."""
    from .context import turn_context

    try:
        context = turn_context(session, options, session.chats.get(chat), config.context_max_chars)
    except AttachmentError as exc:
        raise ClaudeMagicError(str(exc)) from None
    user_content[:0] = [text_block(block) for block in context.blocks]
    if context.notice():
        notices.insert(0, context.notice())


def _image_caption(image: AttachedImage) -> str:
    """ "cell 3, 1568×1045 (from 6000×4000)": what was sent, and what it came from."""
    p = image.prepared
    caption = f"{image.label}, {p.width}×{p.height}"
    if p.resized:
        caption += f" (from {p.original_width}×{p.original_height})"
    return caption


def _attachments(
    session: KernelSession, config: Config, options: CellOptions, model: catalog.Model | None
) -> tuple[list[AttachedImage], list[str], list[Block]]:
    if not (options.image or options.cell or options.doc):
        return [], [], []
    from .attachments import cell_context, resolve_documents, resolve_images

    try:
        images = (
            resolve_images(
                list(options.image),
                session.shell,
                session.recorder,
                current_cell=session.cell.execution_count,
                max_edge=config.max_image_edge,
            )
            if options.image
            else []
        )
        contexts = [cell_context(n, session.recorder) for n in options.cell]
        documents = resolve_documents(list(options.doc), model) if options.doc else []
    except AttachmentError as exc:
        raise ClaudeMagicError(str(exc)) from None
    return images, contexts, documents


def toolset_for(
    session: KernelSession, config: Config, names: str | None, mcp: str | None = None
) -> ToolSet | None:
    """The tools offered in a cell: --tools names, configured tools, decorated functions,
    and the tools of the --mcp servers (started on first use)."""
    from ..tools.toolset import ToolSet

    namespace = session.shell.user_ns
    toolset = (
        ToolSet.resolve(names, namespace)
        | ToolSet.resolve(list(config.tools), namespace)
        | ToolSet.decorated_in(namespace)
    )
    if mcp is not None:
        toolset = toolset | ToolSet(session.mcp().tools(mcp, config.mcp_servers))
    return toolset if len(toolset) else None


def _tools(
    session: KernelSession, config: Config, options: CellOptions, model: catalog.Model | None
) -> tuple[ToolSet | None, list[str], dict[str, Any] | None]:
    toolset = toolset_for(session, config, options.tools, options.mcp)
    if options.computer_use:
        from ..tools.toolset import ToolSet

        if model is None:
            raise ClaudeMagicError(
                "--computer-use needs a model from the catalogue, e.g. -m sonnet."
            )
        handlers = session.computer_use(model)
        problem = handlers.display_problem()
        if problem and problem not in session.said:  # once per kernel, not in every cell
            session.said.add(problem)
            print(
                f"claude-magic: {problem} (the screen tool will report it; bash and the editor work)."
            )
        toolset = (toolset or ToolSet([])) | ToolSet(handlers.tools())
    if toolset and model and not model.tools:
        raise ClaudeMagicError(f"{model.name} can't use tools: pick another model, e.g. -m sonnet.")
    if toolset and options.prefill:
        raise ClaudeMagicError("--prefill can't be combined with tools: drop one of them.")
    from ..tools.toolset import tool_choice_for

    if options.tool_choice is not None and not toolset:
        raise ClaudeMagicError("--tool-choice needs tools: add --tools f,g.")
    choice = tool_choice_for(options.tool_choice, toolset) if toolset else None
    return toolset, (toolset.betas() if toolset else []), choice


def shape_for(config: Config, options: CellOptions, model: catalog.Model | None) -> Shaped:
    """--effort / --think / --no-think (the effort trait when none is given), shaped:
    the thinking fields and the max_tokens the request sends."""
    from ..bedrock.shaping import ThinkingChoice, shape_thinking

    given = options.effort is not None or options.think is not None or options.no_think
    effort = options.effort if given else config.effort
    if not given and model is not None and model.thinking == "none":
        effort = None  # a configured default effort skips models that don't think
    choice = ThinkingChoice(effort=effort, budget=options.think, off=options.no_think)
    return shape_thinking(model, choice, options.max_tokens, config.max_tokens)


def _structured(
    session: KernelSession,
    options: CellOptions,
    model: catalog.Model | None,
    shaped: Any,
    toolset: ToolSet | None,
) -> StructuredPlan | None:
    """The --json plan (None without --json)."""
    if not options.json:
        return None
    from .structured_turn import StructuredPlan

    return StructuredPlan.make(
        options.json, session.shell.user_ns, model, shaped.thinking, bool(toolset)
    )


def context_policy(
    config: Config, model: catalog.Model | None, *, thinking: bool = False, tools: bool = False
) -> ContextPolicy:
    """What a request on the configured route may ask Bedrock to do with its context:
    clear old tool results (and thinking) past `context_clear_at`, compact near the window
    (or at `compact_at`), where the route and the model take it (an unknown model: try;
    Bedrock decides). `unavailable` says why not, for the trimming notice."""
    here = route(config.api)
    editing = here.takes_beta(CONTEXT_BETA) and (model is None or model.context_editing)
    compacting = here.takes_beta(COMPACT_BETA) and (model is None or model.compaction)
    clear_at = config.context_clear_at if editing and config.context_clear_at else None
    wanted = config.compact_at != 0
    if not wanted:
        unavailable = ""
    elif not here.takes_beta(COMPACT_BETA):
        unavailable = (
            f"{here.title} doesn't take compaction: with %config ClaudeMagic.api = 'invoke' "
            "Bedrock summarises the earlier turns instead."
        )
    elif not compacting and model is not None:
        unavailable = f"{model.name} doesn't take compaction on Bedrock (Claude 4.6 and later do)."
    else:
        unavailable = ""
    return ContextPolicy(
        clear_at=clear_at,
        clear_thinking=bool(clear_at and thinking and tools),
        compaction=wanted and compacting,
        compact_at=config.compact_at or None,
        unavailable=unavailable,
    )


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def _default_region(settings: ClientSettings) -> str:
    from ..bedrock.settings import effective_region

    return effective_region(settings)
