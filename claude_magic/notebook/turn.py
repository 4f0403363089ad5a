"""Running one `%%claude` cell: options → request (`prepare_cell`, on the main thread) →
streamed reply → committed turn (`answer`, in the foreground or a background worker)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..bedrock.exchange import Exchange, Request, as_user_error, interrupted_error
from ..core.costs import usage_cost
from ..core.errors import ClaudeMagicError, Interrupted
from ..core.messages import Block, Message, text_block
from ..core.prompt import code_blocks, substitute_names
from ..models import catalog

GUARDRAIL_INTERVENED = "guardrail_intervened"

if TYPE_CHECKING:
    from .magics import ClaudeMagic


@dataclass
class PreparedCell:
    """A cell's question, resolved on the kernel's main thread (namespace, recorded
    outputs, attachments, the running cell): everything `answer` needs."""

    args: argparse.Namespace
    settings: Any
    resolved: catalog.Resolved
    request: Request
    images: list[Any]
    chat: str
    cell_id: str | None
    execution_count: int | None
    toolset: Any
    tool_choice: dict[str, Any] | None
    notices: list[str] = field(default_factory=list)  # shown under the header
    plan: Any = None  # --json: how the structured answer is asked for (structured_turn.py)

    @property
    def model(self) -> catalog.Model | None:
        return self.resolved.model

    def header(self) -> dict[str, Any]:
        """The view's header for this cell."""
        model = self.model
        return {
            "model": model.name if model else self.resolved.invoke_id,
            "model_id": self.resolved.invoke_id,
            "chat": self.chat,
            "offline": self.settings.offline,
            "images": [(image.prepared.thumbnail_png(), _image_caption(image), image.prepared.tokens)
                       for image in self.images],
        }


class Stopped(KeyboardInterrupt):
    """Raised where an answer streams when the user stops it (not a kernel interrupt)."""


def stopped_error(partial: Message | None) -> Interrupted:
    kept = f" The partial answer ({len(partial.text)} characters) is kept." if partial and partial.text else ""
    return Interrupted(f"Stopped.{kept} The conversation is still valid; run the next cell as usual.")


def run_prepared(magic: ClaudeMagic, prepared: PreparedCell) -> None:
    """Answer a prepared cell in the foreground: stream into the cell, keep the turn.
    (`background.run_cell` is the `%%claude` entry point; it calls this.)"""
    from .view import make_view

    view = make_view(magic.shell)
    view.start(prepared.header())
    answer(magic, prepared, view)


def prepare_cell(magic: ClaudeMagic, args: argparse.Namespace, cell: str) -> PreparedCell:
    """Read the cell: options, model, prompt, attachments and tools, as a request."""
    session, shell = magic.session, magic.shell
    settings = magic.client_settings()
    region = settings.region or _default_region(settings)
    resolved = resolve_model(args.model or magic.model, region, magic.geography,
                             offer=magic.session.offer)
    model = resolved.model
    _check_ranges(args)

    if model and args.image and not model.images:
        raise ClaudeMagicError(f"{model.name} can't read images: pick another model, e.g. -m sonnet.")
    text = substitute_names(cell, shell.user_ns).strip()
    images, contexts, documents = _attachments(magic, args, model)
    if not text and not images and not documents:
        raise ClaudeMagicError("The cell is empty: write your question below %%claude.")
    user_content: list[Block] = [text_block(c) for c in contexts]
    user_content += [image.prepared.to_block() for image in images] + documents
    if text:
        user_content.append(text_block(text))

    notices: list[str] = []
    chat_name = args.chat or session.chats.default_name
    _add_notebook_context(magic, args, session.chats.get(chat_name), user_content, notices)

    toolset, betas, tool_choice = _tools(magic, args, model)
    shaped = _thinking(magic, args, model)
    plan = _structured(magic, args, model, shaped, toolset)
    tools = toolset.definitions() if toolset else []
    if plan is not None:
        user_content = plan.user_content(user_content)
        tools, tool_choice = plan.tools, plan.tool_choice
    from ..bedrock.shaping import thinking_betas

    betas = [*betas, *thinking_betas(model, shaped, bool(toolset))]
    request = Request(
        resolved=resolved,
        region=region,
        user_content=user_content,
        image_labels=[image.label for image in images],
        max_tokens=shaped.max_tokens,
        system=args.system if args.system is not None else magic.system,
        temperature=_first(args.temperature, magic.temperature),
        top_p=_first(args.top_p, magic.top_p),
        top_k=_first(args.top_k, magic.top_k),
        stop_sequences=list(args.stop),
        prefill=args.prefill,
        betas=list(dict.fromkeys([*betas, *args.beta])),
        stream=magic.stream and not args.no_stream,
        tools=tools,
        tool_choice=tool_choice,
        api=magic.api,
        guardrail=_guardrail(magic),
        fields=plan.fields(shaped.fields) if plan is not None else shaped.fields,
        cache_ttl=magic.cache_ttl if magic.cache and not args.no_cache else None,
    )
    return PreparedCell(
        args=args, settings=settings, resolved=resolved, request=request, images=images,
        chat=args.chat or session.chats.default_name, cell_id=session.cell.cell_id,
        execution_count=session.cell.execution_count, toolset=toolset, tool_choice=tool_choice,
        notices=notices, plan=plan,
    )


def answer(magic: ClaudeMagic, prepared: PreparedCell, view: Any, *, background: bool = False,
           client: Any = None) -> None:
    """Send the prepared question with the chat's history as it is now, stream the
    reply into the started `view` and commit the turn. Raises the one-line error
    (after showing it in the view) when the answer fails or is cut short. A view
    whose `stop_requested` is true turns any failure into a stop."""
    session, shell, args, request = magic.session, magic.shell, prepared.args, prepared.request
    model, resolved, plan = prepared.model, prepared.resolved, prepared.plan
    conversation = session.chats.get(prepared.chat, new=args.new)
    for notice in prepared.notices:
        view.notice(notice)
    if not args.no_history and prepared.cell_id:
        dropped = conversation.rewind_to_cell(prepared.cell_id)
        if dropped:
            view.notice("Re-run: replaced this cell's earlier turn"
                        + (f" and dropped {dropped - 1} later turn(s)." if dropped > 1 else "."))

    turn = conversation.new_turn(
        request.user_content,
        image_labels=request.image_labels,
        cell_id=prepared.cell_id,
        execution_count=prepared.execution_count,
        model_id=resolved.invoke_id,
    )
    wire = [turn.user_message()] if args.no_history else conversation.messages(pending=turn)
    messages, omitted = conversation.fit_request(wire, turn)
    if omitted:
        view.notice(f"Bedrock takes at most 20 images and 20 MB: {len(omitted)} older image(s) "
                    "were replaced by a placeholder in this request.")
    if request.prefill:
        messages.append({"role": "assistant", "content": request.prefill.rstrip()})

    exchange = Exchange(client or session.client(prepared.settings), request, view,
                        fit=lambda wire: conversation.fit_request(wire, turn)[0])
    try:
        if plan is not None:
            replies = plan.converse(exchange, messages)
        else:
            replies = _converse(magic, exchange, messages, prepared.toolset, prepared.tool_choice,
                                args, view)
    except (KeyboardInterrupt, Exception) as exc:  # every failure reaches the user as one line
        stopped = isinstance(exc, Stopped) or getattr(view, "stop_requested", False)
        if stopped or isinstance(exc, KeyboardInterrupt):
            error: ClaudeMagicError = (stopped_error if stopped else interrupted_error)(exchange.partial)
            reason = "stopped" if stopped else "interrupted"
        else:
            error = as_user_error(exc, request)
            reason = str(error)
        _keep_partial(conversation, turn, exchange, args, reason)
        view.fail(str(error))
        raise error from None

    turn.complete(replies)
    if plan is not None:
        plan.close_turn(turn)
    if not args.no_history:
        conversation.add(turn)
    final = replies[-1]
    if final.stop_reason == GUARDRAIL_INTERVENED:
        view.notice("A Bedrock guardrail intervened: the reply above is the guardrail's message, not Claude's.")
    usage = turn.usage
    cost = usage_cost(model, resolved.invoke_id, usage, cache_ttl=request.cache_ttl or "5m")
    footer = _footer(final, turn, exchange.latency, cost)
    if plan is not None:
        footer = " · ".join(p for p in (footer, plan.footer()) if p)
        if plan.error is not None:
            view.notice(str(plan.failure(args.out)))
        elif args.out:
            shell.user_ns[args.out] = plan.data
            if background:
                view.notice(f"The answer's data is in the variable {args.out}.")
        view.finish(footer, final.stop_reason)
        if plan.error is not None:
            raise plan.failure(args.out)
        return
    text = "\n\n".join(m.text for m in replies if m.role == "assistant" and m.text)
    blocks = code_blocks(text) if args.code else []
    if args.out:
        shell.user_ns[args.out] = text
        if background:
            view.notice(f"The answer's text is in the variable {args.out}.")
    if blocks and background:
        view.notice("Its code blocks go into a new cell below the next cell you run.")
    if blocks:  # before the footer: once the answer shows as finished, the next cell may run
        shell.set_next_input("\n\n".join(blocks), replace=False)
    view.finish(footer, final.stop_reason)


def _add_notebook_context(magic: ClaudeMagic, args: argparse.Namespace, conversation: Any,
                          user_content: list[Block], notices: list[str]) -> None:
    """--above, --var and %claude fix: their text blocks go first, a notice says what they hold."""
    if getattr(args, "above", None) is None and not getattr(args, "var", None) \
            and getattr(args, "notebook_context", None) is None:
        return
    from .attachments import AttachmentError
    from .context import turn_context

    try:
        context = turn_context(magic, args, conversation)
    except AttachmentError as exc:
        raise ClaudeMagicError(str(exc)) from None
    user_content[:0] = [text_block(block) for block in context.blocks]
    if context.notice():
        notices.insert(0, context.notice())


def _converse(magic: ClaudeMagic, exchange: Exchange, messages: list[dict[str, Any]], toolset: Any,
              tool_choice: dict[str, Any] | None, args: argparse.Namespace, view: Any) -> list[Message]:
    """The assistant's replies for this turn (several, with tool results, when tools ran)."""
    if not toolset:
        return [exchange.send(messages, None)]
    from ..tools.approval import Approver, stdin_available
    from ..tools.loop import ToolLoopInterrupted, run_tool_loop

    approver = Approver(auto_approve=magic.auto_approve_tools,
                        stdin_available=lambda: stdin_available(magic.shell))
    try:
        result = run_tool_loop(
            exchange.send, messages, toolset, approver,
            tool_choice=tool_choice,
            max_steps=args.max_steps or magic.max_steps,
            on_call=view.tool_call,
            on_result=lambda use, answer: view.tool_result_block(answer),
        )
    except ToolLoopInterrupted as exc:
        exchange.finished = exc.result.as_messages()
        raise
    if result.notice:
        view.notice(result.notice)
    return result.as_messages()


def _guardrail(magic: ClaudeMagic) -> tuple[str, str] | None:
    """The guardrail traits as (identifier, version), or None when none is set."""
    if not magic.guardrail_id and not magic.guardrail_version:
        return None
    if not (magic.guardrail_id and magic.guardrail_version):
        raise ClaudeMagicError("Set both ClaudeMagic.guardrail_id and ClaudeMagic.guardrail_version "
                               "(a version number or DRAFT) to use a Bedrock guardrail.")
    return magic.guardrail_id, magic.guardrail_version


def _image_caption(image: Any) -> str:
    """"cell 3, 1568×1045 (from 6000×4000)": what was sent, and what it came from."""
    p = image.prepared
    caption = f"{image.label}, {p.width}×{p.height}"
    if p.resized:
        caption += f" (from {p.original_width}×{p.original_height})"
    return caption


def _keep_partial(conversation: Any, turn: Any, exchange: Exchange, args: argparse.Namespace,
                  reason: str) -> None:
    """Keep what arrived before a failure; a request with no answer leaves nothing."""
    if args.no_history:
        return
    if exchange.finished:
        turn.complete(exchange.finished)
    partial = exchange.partial
    if partial is not None and partial.content:
        turn.complete_partial(partial, reason)
    elif turn.replies:
        turn.interrupted = True
        if reason != "interrupted":
            turn.error = reason
    else:
        return
    conversation.add(turn)


def _footer(final: Message, turn: Any, latency: float, cost: float | None) -> str:
    from ..core.render import footer_text

    return footer_text(final.stop_reason, turn.usage, latency, cost,
                       stop_details=final.stop_details, prices_as_of=catalog.PRICES_AS_OF)


def resolve_model(name: str, region: str | None, geography: str = "auto",
                  offer: Any = None) -> catalog.Resolved:
    """What `name` means here; a retired or unknown model stops before any request. A model
    the catalogue lacks but the account offers (`offer`, from `%claude models --refresh`)
    gets the profiles Bedrock listed for it."""
    try:
        resolved = catalog.resolve(name, region, geography=geography)
    except catalog.RetiredModel as exc:
        raise ClaudeMagicError(retired_message(exc.model, exc.replacement)) from None
    except catalog.UnknownModel:
        hints = catalog.suggest(name)
        hint = f" Did you mean {', '.join(hints)}?" if hints else ""
        raise ClaudeMagicError(
            f"Unknown model {name!r}.{hint} %claude models lists them; model ids, "
            "inference-profile ids and ARNs work too."
        ) from None
    model = resolved.model
    if offer is None or model is None or model.known:
        return resolved
    listed = next((m for m in offer.unknown_models() if m.id == model.id), None)
    if listed is None:
        return resolved
    if resolved.via_profile or listed.on_demand or not listed.profiles:
        return catalog.Resolved(resolved.invoke_id, listed, resolved.via_profile)
    profile = catalog.preferred_profile(listed, region, geography)
    return catalog.Resolved(profile, listed, via_profile=True)


def retired_message(model: catalog.Model, replacement: catalog.Model | None) -> str:
    """The one line for a retired model: when, and which alias to use instead."""
    text = f"{model.name} was retired on Bedrock on {model.end_of_life}"
    if replacement is None:
        return text + ": %claude models lists the current models."
    return text + f"; use -m {catalog.alias_for(replacement)} ({replacement.name}) instead."


def _attachments(magic: ClaudeMagic, args: argparse.Namespace, model: catalog.Model | None):
    if not (args.image or args.cell or args.doc):
        return [], [], []
    from .attachments import AttachmentError, cell_context, resolve_documents, resolve_images

    session = magic.session
    try:
        images = resolve_images(args.image, magic.shell, session.recorder,
                                current_cell=session.cell.execution_count,
                                max_edge=magic.max_image_edge) if args.image else []
        contexts = [cell_context(n, session.recorder) for n in args.cell]
        documents = resolve_documents(args.doc, model) if args.doc else []
    except AttachmentError as exc:
        raise ClaudeMagicError(str(exc)) from None
    return images, contexts, documents


def toolset_for(magic: ClaudeMagic, names: str | None) -> Any:
    """The tools offered in a cell: --tools names, configured tools, decorated functions."""
    from ..tools.toolset import ToolSet

    namespace = magic.shell.user_ns
    toolset = (ToolSet.resolve(names, namespace) | ToolSet.resolve(list(magic.tools), namespace)
               | ToolSet.decorated_in(namespace))
    return toolset if len(toolset) else None


def _tools(magic: ClaudeMagic, args: argparse.Namespace, model: catalog.Model | None):
    toolset = toolset_for(magic, args.tools)
    if args.computer_use:
        from ..tools.toolset import ToolSet

        if model is None:
            raise ClaudeMagicError("--computer-use needs a model from the catalogue, e.g. -m sonnet.")
        handlers = magic.session.computer_use(model)
        problem = handlers.display_problem()
        if problem:
            print(f"claude-magic: {problem} (the screen tool will report it; bash and the editor work).")
        toolset = (toolset or ToolSet([])) | ToolSet(handlers.tools())
    if toolset and model and not model.tools:
        raise ClaudeMagicError(f"{model.name} can't use tools: pick another model, e.g. -m sonnet.")
    if toolset and args.prefill:
        raise ClaudeMagicError("--prefill can't be combined with tools: drop one of them.")
    from ..tools.toolset import tool_choice_for

    if args.tool_choice is not None and not toolset:
        raise ClaudeMagicError("--tool-choice needs tools: add --tools f,g.")
    choice = tool_choice_for(args.tool_choice, toolset) if toolset else None
    return toolset, (toolset.betas() if toolset else []), choice


def _thinking(magic: ClaudeMagic, args: argparse.Namespace, model: catalog.Model | None) -> Any:
    """--effort / --think / --no-think (the effort trait when none is given), shaped."""
    from ..bedrock.shaping import ThinkingChoice, shape_thinking

    given = args.effort is not None or args.think is not None or args.no_think
    effort = args.effort if given else magic.effort
    if not given and model is not None and model.thinking == "none":
        effort = None  # a configured default effort skips models that don't think
    choice = ThinkingChoice(effort=effort, budget=args.think, off=args.no_think)
    return shape_thinking(model, choice, args.max_tokens, magic.max_tokens)


def _structured(magic: ClaudeMagic, args: argparse.Namespace, model: catalog.Model | None,
                shaped: Any, toolset: Any) -> Any:
    """The --json plan (None without --json)."""
    if not args.json:
        return None
    from .structured_turn import StructuredPlan

    return StructuredPlan.make(args.json, magic.shell.user_ns, model, shaped.thinking, bool(toolset))


def _check_ranges(args: argparse.Namespace) -> None:
    checks = (
        ("--temperature", args.temperature, 0, 1),
        ("--top-p", args.top_p, 0, 1),
        ("--top-k", args.top_k, 0, 500),
        ("--max-tokens", args.max_tokens, 1, 1_000_000),
        ("--max-steps", args.max_steps, 1, 1000),
    )
    for flag, value, low, high in checks:
        if value is not None and not low <= value <= high:
            raise ClaudeMagicError(f"{flag} must be between {low} and {high}, not {value}.")


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def _default_region(settings: Any) -> str:
    from ..bedrock.settings import effective_region

    return effective_region(settings)
