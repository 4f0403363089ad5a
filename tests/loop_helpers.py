"""A minimal streamed `send` for tool-loop tests: one real boto3 request per call."""

from __future__ import annotations

import json

from claude_magic.core.messages import Message, build_request
from claude_magic.core.stream import decode_chunk, fold_event


def make_send(client, toolset, model_id: str):
    """`send(messages, tool_choice)` streaming through `client` and folded into a Message."""

    def send(messages, tool_choice):
        body = build_request(
            messages,
            max_tokens=1024,
            tools=toolset.definitions(),
            tool_choice=tool_choice,
            anthropic_beta=toolset.betas() or None,
        )
        response = client.invoke_model_with_response_stream(modelId=model_id, body=json.dumps(body))
        message = Message()
        for item in response["body"]:
            fold_event(message, decode_chunk(item))
        return message

    return send
