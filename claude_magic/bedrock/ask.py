"""One request from Python: what `claude_magic.ask` and each row of `map` send, with
a `RequestSpec` (core) made from the caller's options; `send` makes the call."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from ..core.conversation import Conversation
from ..core.errors import ClaudeMagicError
from ..core.messages import Block, Message, text_block
from ..core.reply import Reply
from ..core.request import RequestSpec
from ..media.errors import ImageError
from ..media.figures import image_from_object
from ..media.images import prepare_image
from .settings import ClientSettings, boto_session, effective_region

INVOKE_MODEL = "InvokeModel"
BUILT_IN_EMULATOR = "built-in emulator"


def user_content(prompt: Any, images: Any = (), max_edge: int = 1568) -> list[Block]:
    """The user message's blocks: the images (any notebook image object), then the text."""
    if isinstance(images, (str, bytes)) or not hasattr(images, "__iter__"):
        images = [images]
    blocks: list[Block] = []
    for index, obj in enumerate(images):
        try:
            blocks.append(prepare_image(image_from_object(obj), max_edge=max_edge).to_block())
        except ImageError as exc:
            raise ClaudeMagicError(f"Image {index + 1}: {exc}.") from None
    if isinstance(prompt, list):
        blocks += prompt
    elif prompt is not None and str(prompt).strip():
        blocks.append(text_block(str(prompt)))
    if not blocks:
        raise ClaudeMagicError("The prompt is empty: give ask() some text (or images).")
    return blocks


def route_client(client: Any, api: str) -> Any:
    """The client that sends requests on `api`: the Messages API's for "mantle", else
    `client` (bedrock-runtime's, which also speaks Converse)."""
    if api == "mantle":
        from .mantle import mantle_for

        return mantle_for(client.settings)
    return client


def send(client: Any, spec: RequestSpec, body: dict[str, Any]) -> Message:
    """The spec's route (InvokeModel, Converse or the Messages API, with `client` from
    `route_client`) with the client's retries; raises ClaudeError (one line)."""
    if spec.api == "converse":
        return client.converse(spec.invoke_id, body, **spec.call_args())
    return client.invoke(spec.invoke_id, body, **spec.call_args())


def ask_once(
    client: Any, spec: RequestSpec, content: list[Block], conversation: Conversation | None = None
) -> Reply:
    """One request; with a conversation, sent after its history and kept in it."""
    client = route_client(client, spec.api)
    if conversation is None:
        message = send(client, spec, spec.body([{"role": "user", "content": content}]))
        return spec.reply(message)
    turn = conversation.new_turn(content, model_id=spec.invoke_id)
    messages, _ = conversation.fit_request(conversation.messages(pending=turn), turn)
    if spec.system is None and conversation.system:
        spec = replace(spec, system=conversation.system)
    message = send(client, spec, spec.body(messages))
    turn.complete([message])
    conversation.add(turn)
    return spec.reply(message)


def answer_source(
    settings: ClientSettings, *, built_in_emulator: bool, api: str = INVOKE_MODEL
) -> dict[str, Any]:
    """Where the answers to requests sent with `settings` come from, as far as it is known
    without a call: the built-in emulator (whatever its port), else the endpoint URL, else
    AWS; the region, the profile that picks the account, the API, and offline mode."""
    if built_in_emulator:
        endpoint = BUILT_IN_EMULATOR
    elif settings.endpoint_url:
        endpoint = settings.endpoint_url.rstrip("/")
    else:
        endpoint = "AWS"
    profile = None
    if not settings.offline:
        try:
            profile = boto_session(settings).profile_name
        except Exception:  # a missing profile is reported when the client is made
            profile = settings.profile
    return {
        "endpoint": endpoint,
        "region": effective_region(settings),
        "profile": profile,
        "api": api,
        "offline": settings.offline,
    }


def request_key(spec: RequestSpec, body: dict[str, Any], source: dict[str, Any]) -> str:
    """The cache key of a request: where it is answered (`answer_source`), the model it
    goes to and the exact body."""
    import hashlib

    payload = json.dumps(
        {"source": source, "model": spec.invoke_id, "body": body},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode()).hexdigest()
