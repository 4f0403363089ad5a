"""What the benchmarks stream and run: replies, the model id, and the kernel-side code
of the two baselines (a bare boto3 loop, and a naive Markdown-redisplaying magic).

The replies are the tests' synthetic Markdown (paragraphs, lists, tables and code
fences, cut to N `split_tokens` pieces: the emulator streams one piece per delta).
"""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for _path in (ROOT, ROOT / "tests"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

PROMPT = "Write a long answer."


@lru_cache(maxsize=8)
def _synthetic(tokens: int) -> str:
    namespace: dict = {}
    from test_view import REPLY_SOURCE

    exec(REPLY_SOURCE, namespace)
    return namespace["synthetic_reply"](tokens)


def reply_text(tokens: int, variant: int = 0) -> str:
    """The synthetic Markdown reply of `tokens` stream deltas (tests/test_view.py).

    `variant` (0-9) rotates every digit: every block of the reply changes (each has
    numbers) while its tokens keep their sizes, so a run never meets blocks that a
    previous run left in a cache."""
    text = _synthetic(tokens)
    if variant % 10:
        digits = "0123456789"
        text = text.translate(
            str.maketrans(digits, digits[variant % 10 :] + digits[: variant % 10])
        )
    return text


def marker_reply(tokens: int, per_paragraph: int = 24) -> str:
    """A reply whose every word is a unique one-delta marker (`q000`, `q001`, ...),
    in paragraphs, with a short list now and then, so each token can be found in
    the IOPub messages that show it."""
    if tokens > 1000:
        raise ValueError("at most 1000 markers")
    parts: list[str] = []
    words: list[str] = []
    for i in range(tokens):
        words.append(f"q{i:03d}")
        if len(words) == per_paragraph:
            block = len(parts)
            parts.append(
                "\n".join(f"- {w}" for w in words[:4]) + "\n" + " ".join(words[4:])
                if block % 4 == 3
                else " ".join(words)
            )
            words = []
    if words:
        parts.append(" ".join(words))
    return "\n\n".join(parts)


def model_id() -> str:
    """What `%%claude` sends for its default model in us-east-1."""
    from claude_magic.models import catalog

    return catalog.resolve(catalog.DEFAULT_MODEL_ALIAS, "us-east-1").invoke_id


def claude_cell(prompt: str = PROMPT) -> str:
    """A `%%claude` cell that keeps no history, so runs don't grow the request."""
    return f"%%claude --no-history\n{prompt}"


# Runs in the kernel: the bare loop (a), timed inside the kernel.
BARE_LOOP_SOURCE = '''
import json as _bench_json, os as _bench_os, time as _bench_time

def _bench_client():
    import boto3
    from botocore.config import Config
    return boto3.client("bedrock-runtime", region_name="us-east-1",
                        endpoint_url=_bench_os.environ["CLAUDE_MAGIC_ENDPOINT_URL"],
                        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}, read_timeout=300))

def bare_stream(model_id, prompt="Write a long answer."):
    """Stream with boto3 and only join the text; (seconds, characters)."""
    started = _bench_time.perf_counter()
    body = _bench_json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 64000,
                              "messages": [{"role": "user", "content": prompt}]})
    response = _bench_client_cached.invoke_model_with_response_stream(modelId=model_id, body=body)
    parts = []
    for event in response["body"]:
        chunk = _bench_json.loads(event["chunk"]["bytes"])
        if chunk["type"] == "content_block_delta":
            parts.append(chunk["delta"]["text"])
    text = "".join(parts)
    return _bench_time.perf_counter() - started, len(text)

_bench_client_cached = _bench_client()
'''

# Runs in the kernel (after BARE_LOOP_SOURCE): the same stream read through
# claude-magic's own client and event-stream decoder, only joining the text; what
# %%claude costs without its view, history and the rest of the magic.
CLIENT_LOOP_SOURCE = '''
def client_stream(model_id, prompt="Write a long answer."):
    """Stream with claude-magic's BedrockClient and only join the text; (seconds, characters)."""
    from claude_magic.bedrock.client import client_for
    from claude_magic.bedrock.settings import ClientSettings
    started = _bench_time.perf_counter()
    client = client_for(ClientSettings(endpoint_url=_bench_os.environ["CLAUDE_MAGIC_ENDPOINT_URL"], max_attempts=1))
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 64000,
            "messages": [{"role": "user", "content": prompt}]}
    parts = []
    for event in client.stream(model_id, body):
        if event["type"] == "content_block_delta":
            parts.append(event["delta"]["text"])
    text = "".join(parts)
    return _bench_time.perf_counter() - started, len(text)
'''

# Runs in the kernel: what simple magics do. One update_display_data per delta, each
# carrying the whole Markdown so far (text/markdown plus text/plain).
NAIVE_MAGIC_SOURCE = '''
import json as _naive_json, os as _naive_os
from IPython.core.magic import register_cell_magic
from IPython.display import Markdown, display

_naive_client = None

@register_cell_magic
def naive(line, cell):
    """Stream with boto3; re-display the whole Markdown on every delta."""
    global _naive_client
    if _naive_client is None:
        import boto3
        _naive_client = boto3.client("bedrock-runtime", region_name="us-east-1",
                                     endpoint_url=_naive_os.environ["CLAUDE_MAGIC_ENDPOINT_URL"])
    body = _naive_json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 64000,
                              "messages": [{"role": "user", "content": cell}]})
    response = _naive_client.invoke_model_with_response_stream(modelId=line.strip(), body=body)
    text = ""
    handle = display(Markdown(text), display_id=True)
    for event in response["body"]:
        chunk = _naive_json.loads(event["chunk"]["bytes"])
        if chunk["type"] == "content_block_delta" and chunk["delta"]["type"] == "text_delta":
            text += chunk["delta"]["text"]
            handle.update(Markdown(text))
'''


def naive_cell(prompt: str = PROMPT) -> str:
    return f"%%naive {model_id()}\n{prompt}"


# Runs in the kernel: the least a notebook can do. Each delta printed as it comes
# (ipykernel batches stdout into `stream` messages).
PRINT_LOOP_SOURCE = '''
import json as _print_json, os as _print_os
from IPython.core.magic import register_cell_magic

_print_client = None

@register_cell_magic
def printloop(line, cell):
    """Stream with boto3; print each text delta."""
    global _print_client
    if _print_client is None:
        import boto3
        _print_client = boto3.client("bedrock-runtime", region_name="us-east-1",
                                     endpoint_url=_print_os.environ["CLAUDE_MAGIC_ENDPOINT_URL"])
    body = _print_json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 64000,
                              "messages": [{"role": "user", "content": cell}]})
    response = _print_client.invoke_model_with_response_stream(modelId=line.strip(), body=body)
    for event in response["body"]:
        chunk = _print_json.loads(event["chunk"]["bytes"])
        if chunk["type"] == "content_block_delta" and chunk["delta"]["type"] == "text_delta":
            print(chunk["delta"]["text"], end="")
'''


def print_cell(prompt: str = PROMPT) -> str:
    return f"%%printloop {model_id()}\n{prompt}"
