"""Request validation of the emulator: every rule with Bedrock's message text, called
directly, plus a few through a real boto3 client over loopback."""

from __future__ import annotations

import base64
import json
from datetime import date

import pytest
from helpers import png_b64

from claude_magic.core.messages import MAX_BODY_BYTES, MAX_IMAGE_BASE64_BYTES
from claude_magic.emulator.errors import BedrockError
from claude_magic.emulator.validation.request import (
    INVALID_MODEL,
    validate_invoke,
)
from claude_magic.emulator.validation.request import (
    validate_count_tokens as _validate_count_tokens,
)

# These rules are about the seed's models too, Bedrock has retired most of them since: they
# are judged on a day every model named here was still served (today's rules and the end
# of life: tests/test_emulator_rules.py).
SERVED = date(2025, 1, 1)
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
SONNET_V2 = "us.anthropic.claude-3-5-sonnet-20241022-v2:0"
SONNET_37 = "us.anthropic.claude-3-7-sonnet-20250219-v1:0"
SONNET_4 = "us.anthropic.claude-sonnet-4-20250514-v1:0"
HAIKU_35 = "us.anthropic.claude-3-5-haiku-20241022-v1:0"
CLAUDE_21 = "anthropic.claude-v2:1"
INSTANT = "anthropic.claude-instant-v1"
HAIKU_NOW_ID = "anthropic.claude-haiku-4-5-20251001-v1:0"  # through the server, on the pinned date
HAIKU_NOW = "us." + HAIKU_NOW_ID
ON_DEMAND_37 = (
    "Invocation of model ID anthropic.claude-3-7-sonnet-20250219-v1:0 with on-demand throughput "
    "isn’t supported. Retry your request with the ID or ARN of an inference profile that "
    "contains this model."
)
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Weather for a city.",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


def body(**overrides):
    base = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 256,
        "messages": [{"role": "user", "content": "Hello"}],
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def validate_count_tokens(model_id, raw):
    return _validate_count_tokens(model_id, raw, today=SERVED)


def invoke(data, model_id=HAIKU, headers=None):
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return validate_invoke(model_id, raw, headers or {}, today=SERVED)


def error(data, model_id=HAIKU, headers=None) -> BedrockError:
    with pytest.raises(BedrockError) as caught:
        invoke(data, model_id, headers)
    return caught.value


def message_of(data, model_id=HAIKU, headers=None) -> str:
    err = error(data, model_id, headers)
    assert err.code == "ValidationException" and err.status == 400
    return err.message


def image_block(data=None, media_type="image/png"):
    return {
        "type": "image",
        "source": {
            "type": "base64",
            "media_type": media_type,
            "data": data if data is not None else png_b64(),
        },
    }


PDF = (
    b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    b"2 0 obj << /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >> endobj\n"
    b"3 0 obj << /Type /Page /Parent 2 0 R >> endobj\n"
    b"4 0 obj << /Type /Page /Parent 2 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
)


def pdf_block(raw=PDF, media_type="application/pdf"):
    return {
        "type": "document",
        "name": "report",
        "source": {
            "type": "base64",
            "media_type": media_type,
            "data": base64.b64encode(raw).decode(),
        },
    }


def user(*blocks):
    return {"role": "user", "content": list(blocks)}


# -- model identifiers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "model_id, api_model",
    [
        (HAIKU, "claude-3-haiku-20240307"),
        ("eu.anthropic.claude-3-haiku-20240307-v1:0", "claude-3-haiku-20240307"),
        (SONNET_37, "claude-3-7-sonnet-20250219"),
        ("global.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5-20250929"),
        (
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/" + SONNET_37,
            "claude-3-7-sonnet-20250219",
        ),
        ("arn:aws:bedrock:us-east-1::foundation-model/" + HAIKU, "claude-3-haiku-20240307"),
    ],
)
def test_model_identifiers_that_resolve(model_id, api_model):
    model, parsed = invoke(body(), model_id)
    assert model.api_model == api_model
    assert parsed == body()


@pytest.mark.parametrize(
    "model_id",
    [
        "anthropic.claude-9-nonexistent-v1:0",
        "global.anthropic.claude-3-haiku-20240307-v1:0",  # no global profile for Claude 3 Haiku
        "eu.anthropic.claude-3-opus-20240229-v1:0",  # Opus 3 only has a us. profile
        "xx.anthropic.claude-3-haiku-20240307-v1:0",
        "arn:aws:bedrock:us-east-1::foundation-model/" + SONNET_37,
        "arn:aws:bedrock:us-east-1:123456789012:inference-profile/" + HAIKU,
        "sonnet",
    ],
)
def test_unknown_model_identifiers(model_id):
    assert message_of(body(), model_id) == INVALID_MODEL


@pytest.mark.parametrize(
    "model_id",
    [
        "anthropic.claude-3-7-sonnet-20250219-v1:0",
        "arn:aws:bedrock:us-west-2::foundation-model/anthropic.claude-3-7-sonnet-20250219-v1:0",
    ],
)
def test_models_that_need_an_inference_profile(model_id):
    assert message_of(body(), model_id) == ON_DEMAND_37


# -- the body as a whole -------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"   ",
        b"{",
        b"\xff\xfe\x00garbage",
        b"[1, 2]",
        b'"text"',
        b"null",
        b'{"max_tokens": NaN}',
        b"[" * 5000 + b"]" * 5000,
        b'{"messages": ' + b"[" * 150 + b"]" * 150 + b"}",
    ],
)
def test_bodies_that_are_not_json_objects(raw):
    text = message_of(raw)
    assert text.startswith("Malformed input request: ")
    assert text.endswith(", please reformat your input and try again.")


def test_a_body_over_20_mb():
    raw = b'{"pad": "' + b"x" * MAX_BODY_BYTES + b'"}'
    assert "maximum payload size" in message_of(raw)


def test_content_type_must_be_json():
    assert invoke(body(), headers={"Content-Type": "application/json"})
    assert "Content-Type text/plain" in message_of(body(), headers={"content-type": "text/plain"})


@pytest.mark.parametrize(
    "drop, key",
    [
        ("max_tokens", "max_tokens"),
        ("messages", "messages"),
        ("anthropic_version", "anthropic_version"),
    ],
)
def test_required_keys(drop, key):
    data = body()
    del data[drop]
    assert message_of(data) == (
        f"Malformed input request: #: required key [{key}] not found, "
        "please reformat your input and try again."
    )


def test_extraneous_key():
    assert message_of(body(stream=True)) == (
        "Malformed input request: #: extraneous key [stream] is not permitted, "
        "please reformat your input and try again."
    )


def test_several_schema_violations_are_all_reported():
    data = body(model="x", stream=True)
    del data["max_tokens"]
    assert message_of(data) == (
        "Malformed input request: #: required key [max_tokens] not found"
        "#: extraneous key [model] is not permitted#: extraneous key [stream] is not permitted, "
        "please reformat your input and try again."
    )


@pytest.mark.parametrize(
    "overrides, violation",
    [
        ({"max_tokens": "10"}, "#/max_tokens: expected type: Integer, found: String"),
        ({"max_tokens": 1.5}, "#/max_tokens: expected type: Integer, found: BigDecimal"),
        ({"max_tokens": True}, "#/max_tokens: expected type: Integer, found: Boolean"),
        ({"max_tokens": 0}, "#/max_tokens: 0 is not greater or equal to 1"),
        ({"temperature": 1.5}, "#/temperature: 1.5 is not less or equal to 1"),
        ({"temperature": "hot"}, "#/temperature: expected type: Number, found: String"),
        ({"top_p": -0.1}, "#/top_p: -0.1 is not greater or equal to 0"),
        ({"top_k": 501}, "#/top_k: 501 is not less or equal to 500"),
        ({"top_k": 2.5}, "#/top_k: expected type: Integer, found: BigDecimal"),
        ({"stop_sequences": "STOP"}, "#/stop_sequences: expected type: JSONArray, found: String"),
        ({"stop_sequences": ["a", 1]}, "#/stop_sequences/1: expected type: String, found: Integer"),
        (
            {"stop_sequences": ["s"] * 8192},
            "#/stop_sequences: expected maximum item count: 8191, found: 8192",
        ),
        ({"messages": []}, "#/messages: expected minimum item count: 1, found: 0"),
        ({"messages": "Hello"}, "#/messages: expected type: JSONArray, found: String"),
        ({"system": 3}, "#/system: expected type: String or JSONArray, found: Integer"),
        ({"tool_choice": "auto"}, "#/tool_choice: expected type: JSONObject, found: String"),
        (
            {"anthropic_beta": "computer-use-2024-10-22"},
            "#/anthropic_beta: expected type: JSONArray, found: String",
        ),
    ],
)
def test_top_level_types_and_ranges(overrides, violation):
    assert message_of(body(**overrides)) == (
        f"Malformed input request: {violation}, please reformat your input and try again."
    )


def test_parameters_in_range_pass():
    model, parsed = invoke(
        body(
            temperature=0,
            top_p=1,
            top_k=500,
            stop_sequences=["\n\nHuman:"] * 8191,
            metadata={"user_id": "u-1"},
        )
    )
    assert parsed["top_k"] == 500


def test_anthropic_version_value():
    assert (
        message_of(body(anthropic_version="bedrock-2023-05-30"))
        == "Invalid API version: bedrock-2023-05-30"
    )


def test_max_tokens_above_the_model_limit():
    assert invoke(body(max_tokens=4096))
    assert message_of(body(max_tokens=4097)) == (
        "max_tokens: 4097 > 4096, which is the maximum allowed number of output tokens for "
        "claude-3-haiku-20240307"
    )
    assert invoke(body(max_tokens=64_000), SONNET_37)


def test_input_too_long_for_the_model():
    long_text = "word " * 120_000
    assert invoke(body(messages=[{"role": "user", "content": long_text}]), HAIKU)
    assert message_of(body(messages=[{"role": "user", "content": long_text}]), INSTANT) == (
        "Input is too long for requested model."
    )


# -- system --------------------------------------------------------------------------------


def test_system_prompts():
    assert invoke(body(system="Be brief."))
    assert invoke(
        body(system=[{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}])
    )
    assert invoke(body(system="Be brief."), CLAUDE_21)
    assert (
        message_of(body(system="Be brief."), INSTANT)
        == "claude-instant-1.2 does not support system prompts."
    )
    assert message_of(body(system=[{"type": "image"}])).startswith(
        "system.0: Input should be a text block"
    )
    assert (
        message_of(body(system=[{"type": "text", "text": " "}]))
        == "system: text content blocks must be non-empty"
    )


# -- messages ------------------------------------------------------------------------------


def test_first_message_must_be_user():
    data = body(
        messages=[{"role": "assistant", "content": "Hi"}, {"role": "user", "content": "Hello"}]
    )
    assert message_of(data) == 'messages: first message must use the "user" role'


@pytest.mark.parametrize("role", ["user", "assistant"])
def test_roles_must_alternate(role):
    messages = [{"role": "user", "content": "one"}, {"role": "assistant", "content": "two"}]
    messages.insert(1 if role == "user" else 2, {"role": role, "content": "again"})
    assert message_of(body(messages=messages)) == (
        f'messages: roles must alternate between "user" and "assistant", but found multiple '
        f'"{role}" roles in a row'
    )


@pytest.mark.parametrize(
    "message, expected",
    [
        (
            {"role": "system", "content": "x"},
            "messages.0.role: Input should be 'user' or 'assistant'",
        ),
        ({"content": "x"}, "messages.0.role: Field required"),
        ({"role": "user"}, "messages.0.content: Field required"),
        (
            {"role": "user", "content": 5},
            "messages.0.content: Input should be a valid string or a valid list",
        ),
        (
            {"role": "user", "content": "x", "name": "bob"},
            "messages.0.name: Extra inputs are not permitted",
        ),
        (
            {"role": "user", "content": ""},
            "messages.0: all messages must have non-empty content except for "
            "the optional final assistant message",
        ),
        (
            {"role": "user", "content": []},
            "messages.0: all messages must have non-empty content except for "
            "the optional final assistant message",
        ),
        (user({"type": "text", "text": ""}), "messages: text content blocks must be non-empty"),
        (
            user({"type": "text", "text": "  \n"}),
            "messages: text content blocks must contain non-whitespace text",
        ),
        (user({"type": "text"}), "messages.0.content.0.text.text: Field required"),
        (
            user({"type": "text", "text": 3}),
            "messages.0.content.0.text.text: Input should be a valid string",
        ),
        (
            user({"type": "text", "text": "x", "colour": "red"}),
            "messages.0.content.0.text.colour: Extra inputs are not permitted",
        ),
        (
            user({"text": "x"}),
            "messages.0.content.0: Unable to extract tag using discriminator 'type'",
        ),
        (
            user("just a string"),
            "messages.0.content.0: Input should be a valid dictionary or object to "
            "extract fields from",
        ),
    ],
)
def test_message_structure(message, expected):
    assert message_of(body(messages=[message])) == expected


def test_unknown_block_type_is_named():
    text = message_of(body(messages=[user({"type": "video", "source": {}})]))
    assert text.startswith(
        "messages.0.content.0: Input tag 'video' found using 'type' does not match"
    )
    assert "'text', 'image', 'document', 'tool_use', 'tool_result'" in text


def test_prefill():
    prefill = [{"role": "user", "content": "Describe yourself in JSON"}]
    assert invoke(body(messages=[*prefill, {"role": "assistant", "content": "Here it is:\n{"}]))
    assert invoke(body(messages=[*prefill, {"role": "assistant", "content": ""}]))
    for content in ("As an AI assistant, I ", [{"type": "text", "text": "Sure:\n"}]):
        assert message_of(body(messages=[*prefill, {"role": "assistant", "content": content}])) == (
            "messages: final assistant content cannot end with trailing whitespace"
        )


# -- images --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fmt, media_type",
    [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("GIF", "image/gif"), ("WEBP", "image/webp")],
)
def test_images_of_each_format_pass(fmt, media_type):
    data = body(
        messages=[
            user(image_block(png_b64(fmt=fmt), media_type), {"type": "text", "text": "What?"})
        ]
    )
    assert invoke(data)


def test_image_media_type_must_be_one_of_four():
    data = body(messages=[user(image_block(media_type="image/bmp"))])
    assert message_of(data) == (
        "messages.0.content.0.image.source.base64.media_type: Input should be "
        "'image/jpeg', 'image/png', 'image/gif' or 'image/webp'"
    )


def test_image_bytes_must_match_the_media_type():
    data = body(
        messages=[user({"type": "text", "text": "Look"}, image_block(png_b64(), "image/jpeg"))]
    )
    assert message_of(data) == (
        "messages.0.content.1.image.source.base64: The image was specified using the image/jpeg "
        "media type, but the image appears to be a image/png image"
    )


def test_image_data_must_be_base64_of_an_image():
    assert message_of(body(messages=[user(image_block("not base64!"))])) == (
        "messages.0.content.0.image.source.base64.data: The image data is not valid base64."
    )
    not_an_image = base64.b64encode(b"hello, world").decode()
    assert message_of(body(messages=[user(image_block(not_an_image))])) == (
        "messages.0.content.0.image.source.base64.data: Could not process image"
    )
    truncated = base64.b64encode(base64.b64decode(png_b64())[:20]).decode()
    assert message_of(body(messages=[user(image_block(truncated))])) == (
        "messages.0.content.0.image.source.base64.data: Could not process image"
    )


def test_image_over_5_mb_of_base64():
    data = png_b64(size=(1400, 1100), noise=True)
    assert len(data) > MAX_IMAGE_BASE64_BYTES
    request = body(messages=[user({"type": "text", "text": "Look"}, image_block(data))])
    assert message_of(request) == (
        f"messages.0.content.1.image.source.base64: image exceeds 5 MB maximum: {len(data)} bytes "
        f"> {MAX_IMAGE_BASE64_BYTES} bytes"
    )


def test_image_side_over_8000_px():
    assert invoke(body(messages=[user(image_block(png_b64(size=(8000, 4))))]))
    assert message_of(body(messages=[user(image_block(png_b64(size=(4, 8001))))])) == (
        "messages.0.content.0.image.source.base64.data: At least one of the image dimensions "
        "exceed max allowed size: 8000 pixels"
    )


def test_at_most_20_images():
    block = image_block()
    assert invoke(body(messages=[user(*[block] * 20)]))
    assert message_of(body(messages=[user(*[block] * 21)])) == "messages: too many images: 21 > 20"


def test_images_only_in_user_messages():
    messages = [
        {"role": "user", "content": "Draw"},
        {"role": "assistant", "content": [image_block()]},
        {"role": "user", "content": "Thanks"},
    ]
    assert message_of(body(messages=messages)) == (
        "messages.1.content.0: image blocks are only allowed in user messages"
    )


def test_url_image_sources_are_not_accepted():
    block = {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}
    assert message_of(body(messages=[user(block)])).startswith(
        "messages.0.content.0.image.source: Input tag 'url'"
    )


@pytest.mark.parametrize(
    "model_id, name", [(CLAUDE_21, "claude-2.1"), (HAIKU_35, "claude-3-5-haiku-20241022")]
)
def test_models_without_image_input(model_id, name):
    assert (
        message_of(body(messages=[user(image_block())]), model_id)
        == f"{name} does not support image input."
    )


# -- documents -----------------------------------------------------------------------------


def test_documents_pass_on_models_that_read_them():
    text_doc = {
        "type": "document",
        "source": {"type": "text", "media_type": "text/plain", "data": "Notes"},
    }
    plain_b64 = pdf_block(b"plain words", "text/plain")
    assert invoke(
        body(messages=[user(pdf_block(), text_doc, plain_b64, {"type": "text", "text": "Sum up"})]),
        SONNET_V2,
    )


def test_documents_need_a_model_that_reads_them():
    assert message_of(body(messages=[user(pdf_block())]), HAIKU) == (
        "claude-3-haiku-20240307 does not support document input."
    )


def test_document_checks():
    assert (
        message_of(body(messages=[user(*[pdf_block()] * 6)]), SONNET_V2)
        == "messages: too many documents: 6 > 5"
    )
    assert message_of(body(messages=[user(pdf_block(b"not a pdf"))]), SONNET_V2) == (
        "messages.0.content.0.document.source.base64.data: The PDF specified was not valid."
    )
    assert message_of(body(messages=[user(pdf_block(PDF, "application/msword"))]), SONNET_V2) == (
        "messages.0.content.0.document.source.base64.media_type: Input should be "
        "'application/pdf' or 'text/plain'"
    )
    big = PDF + b"%" * (4_718_592 - len(PDF) + 1)
    assert message_of(body(messages=[user(pdf_block(big))]), SONNET_V2) == (
        "messages.0.content.0.document.source.base64: document exceeds 4.5 MB maximum: "
        "4718593 bytes > 4718592 bytes"
    )


# -- tools ---------------------------------------------------------------------------------


def test_tools_pass():
    assert invoke(body(tools=[WEATHER_TOOL], tool_choice={"type": "auto"}))


def test_models_without_tool_use():
    assert (
        message_of(body(tools=[WEATHER_TOOL]), CLAUDE_21) == "claude-2.1 does not support tool use."
    )


@pytest.mark.parametrize(
    "tool, expected",
    [
        (
            {**WEATHER_TOOL, "name": "get weather"},
            "tools.0.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'",
        ),
        (
            {**WEATHER_TOOL, "name": "x" * 65},
            "tools.0.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'",
        ),
        (
            {"description": "d", "input_schema": {"type": "object"}},
            "tools.0.custom.name: Field required",
        ),
        ({"name": "f", "description": "d"}, "tools.0.custom.input_schema: Field required"),
        (
            {"name": "f", "input_schema": {"type": "array"}},
            "tools.0.custom.input_schema.type: Input should be 'object'",
        ),
        (
            {"name": "f", "description": 5, "input_schema": {"type": "object"}},
            "tools.0.custom.description: Input should be a valid string",
        ),
        (
            {"name": "f", "input_schema": {"type": "object"}, "strict": True},
            "tools.0.custom.strict: Extra inputs are not permitted",
        ),
        (
            {"name": "f", "input_schema": {"type": "object", "properties": 5}},
            "tools.0.custom.input_schema: JSON schema is invalid - please consult https://json-schema.org "
            "or our documentation at https://docs.anthropic.com/en/docs/tool-use",
        ),
        (
            {"type": "web_search_20250305", "name": "web_search"},
            "tools.0: Input tag 'web_search_20250305' found using 'type' does not match any of the "
            "expected tags: 'custom'",
        ),
    ],
)
def test_custom_tool_rules(tool, expected):
    assert message_of(body(tools=[tool])) == expected


def test_tool_names_must_be_unique():
    assert (
        message_of(body(tools=[WEATHER_TOOL, WEATHER_TOOL])) == "tools: Tool names must be unique."
    )


COMPUTER = {
    "type": "computer_20241022",
    "name": "computer",
    "display_width_px": 1024,
    "display_height_px": 768,
}


def test_computer_use_tools_with_their_beta():
    tools = [
        COMPUTER,
        {"type": "bash_20241022", "name": "bash"},
        {"type": "text_editor_20241022", "name": "str_replace_editor"},
    ]
    assert invoke(body(tools=tools, anthropic_beta=["computer-use-2024-10-22"]), SONNET_V2)
    claude_4 = [
        {
            "type": "computer_20250124",
            "name": "computer",
            "display_width_px": 800,
            "display_height_px": 600,
            "display_number": 1,
        },
        {"type": "bash_20250124", "name": "bash"},
        {"type": "text_editor_20250429", "name": "str_replace_based_edit_tool"},
    ]
    assert invoke(body(tools=claude_4, anthropic_beta=["computer-use-2025-01-24"]), SONNET_4)


def test_computer_use_needs_the_beta_flag():
    assert message_of(body(tools=[COMPUTER]), SONNET_V2) == (
        "tools.0: tool type 'computer_20241022' requires \"anthropic_beta\": "
        '["computer-use-2024-10-22"] in the request body.'
    )


def test_computer_use_needs_a_model_that_has_it():
    assert message_of(
        body(tools=[COMPUTER], anthropic_beta=["computer-use-2024-10-22"]), HAIKU
    ) == ("claude-3-haiku-20240307 does not support the beta flag computer-use-2024-10-22.")
    old_editor = {"type": "text_editor_20250124", "name": "str_replace_editor"}
    assert message_of(
        body(tools=[old_editor], anthropic_beta=["computer-use-2025-01-24"]), SONNET_4
    ) == ("tools.0: tool type 'text_editor_20250124' is not supported by claude-sonnet-4-20250514.")


@pytest.mark.parametrize(
    "tool, expected",
    [
        (
            {"type": "text_editor_20250429", "name": "str_replace_editor"},
            "tools.0.text_editor_20250429.name: Input should be 'str_replace_based_edit_tool'",
        ),
        (
            {"type": "computer_20250124", "name": "computer", "display_height_px": 600},
            "tools.0.computer_20250124.display_width_px: Field required",
        ),
        (
            {
                "type": "computer_20250124",
                "name": "computer",
                "display_width_px": 0,
                "display_height_px": 600,
            },
            "tools.0.computer_20250124.display_width_px: Input should be greater than or equal to 1",
        ),
        (
            {
                "type": "computer_20250124",
                "name": "computer",
                "display_width_px": "wide",
                "display_height_px": 600,
            },
            "tools.0.computer_20250124.display_width_px: Input should be a valid integer",
        ),
        (
            {"type": "bash_20250124", "name": "shell"},
            "tools.0.bash_20250124.name: Input should be 'bash'",
        ),
    ],
)
def test_computer_use_tool_fields(tool, expected):
    assert (
        message_of(body(tools=[tool], anthropic_beta=["computer-use-2025-01-24"]), SONNET_4)
        == expected
    )


def test_unknown_beta_flags():
    assert message_of(body(anthropic_beta=["made-up-2099-01-01"])) == "invalid beta flag"
    assert invoke(body(anthropic_beta=["context-1m-2025-08-07"]), SONNET_4)


@pytest.mark.parametrize(
    "tool_choice, tools, expected",
    [
        ({"type": "auto"}, None, "tool_choice may only be specified while providing tools."),
        ({"type": "any"}, [], "tool_choice may only be specified while providing tools."),
        (
            {"type": "required"},
            [WEATHER_TOOL],
            "tool_choice: Input tag 'required' found using 'type' does not "
            "match any of the expected tags: 'auto', 'any', 'tool', 'none'",
        ),
        ({}, [WEATHER_TOOL], "tool_choice: Unable to extract tag using discriminator 'type'"),
        ({"type": "tool"}, [WEATHER_TOOL], "tool_choice.tool.name: Field required"),
        (
            {"type": "tool", "name": "get_time"},
            [WEATHER_TOOL],
            "tool_choice.tool.name: no tool named 'get_time' was provided in `tools`.",
        ),
        (
            {"type": "auto", "name": "get_weather"},
            [WEATHER_TOOL],
            "tool_choice.auto.name: Extra inputs are not permitted",
        ),
    ],
)
def test_tool_choice_rules(tool_choice, tools, expected):
    assert message_of(body(tools=tools, tool_choice=tool_choice)) == expected


@pytest.mark.parametrize("kind", ["auto", "any", "none"])
def test_tool_choice_types_pass(kind):
    assert invoke(
        body(tools=[WEATHER_TOOL], tool_choice={"type": kind, "disable_parallel_tool_use": True})
    )
    assert invoke(body(tools=[WEATHER_TOOL], tool_choice={"type": "tool", "name": "get_weather"}))


# -- tool use and results in the conversation -----------------------------------------------


def _tool_turns(result_ids=("toolu_1",), use_ids=("toolu_1",)):
    return [
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "Checking."}]
            + [
                {"type": "tool_use", "id": i, "name": "get_weather", "input": {"city": "Paris"}}
                for i in use_ids
            ],
        },
        user(*[{"type": "tool_result", "tool_use_id": i, "content": "Sunny"} for i in result_ids]),
    ]


def test_tool_results_answer_tool_uses():
    assert invoke(body(tools=[WEATHER_TOOL], messages=_tool_turns()))
    assert invoke(body(tools=[WEATHER_TOOL], messages=_tool_turns(("a", "b"), ("a", "b"))))


def test_tool_result_without_a_tool_use():
    messages = [user({"type": "tool_result", "tool_use_id": "toolu_x", "content": "Sunny"})]
    assert message_of(body(tools=[WEATHER_TOOL], messages=messages)) == (
        "messages.0.content.0: unexpected `tool_use_id` found in `tool_result` blocks: toolu_x. "
        "Each `tool_result` block must have a corresponding `tool_use` block in the previous message."
    )


def test_tool_use_without_a_tool_result():
    messages = _tool_turns(result_ids=("toolu_1",), use_ids=("toolu_1", "toolu_2", "toolu_3"))
    assert message_of(body(tools=[WEATHER_TOOL], messages=messages)) == (
        "messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: "
        "toolu_2, toolu_3. Each `tool_use` block must have a corresponding `tool_result` block "
        "in the next message."
    )


def test_tool_use_in_the_final_assistant_message_needs_no_result():
    assert invoke(body(tools=[WEATHER_TOOL], messages=_tool_turns()[:2]))


def test_tool_blocks_need_tools():
    assert message_of(body(messages=_tool_turns())) == (
        "Requests which include `tool_use` or `tool_result` blocks must define tools."
    )


def test_tool_blocks_belong_to_their_roles():
    wrong = [user({"type": "tool_use", "id": "t", "name": "get_weather", "input": {}})]
    assert message_of(body(tools=[WEATHER_TOOL], messages=wrong)) == (
        "messages.0.content.0: tool_use blocks are only allowed in assistant messages"
    )
    turns = _tool_turns()
    turns[1]["content"].append({"type": "tool_result", "tool_use_id": "toolu_1", "content": "x"})
    assert message_of(body(tools=[WEATHER_TOOL], messages=turns)) == (
        "messages.1.content.2: tool_result blocks are only allowed in user messages"
    )


def test_tool_use_ids_are_unique():
    turns = _tool_turns() + [
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}],
        }
    ]
    assert message_of(body(tools=[WEATHER_TOOL], messages=turns)) == (
        "messages.3.content.0: `tool_use` ids must be unique"
    )


def test_tool_result_content():
    turns = _tool_turns()
    turns[2]["content"][0]["content"] = [{"type": "text", "text": "Sunny"}, image_block()]
    assert invoke(body(tools=[WEATHER_TOOL], messages=turns))
    turns[2]["content"][0]["content"] = [{"type": "audio"}]
    assert message_of(body(tools=[WEATHER_TOOL], messages=turns)) == (
        "messages.2.content.0.tool_result.content.0: Input tag 'audio' found using 'type' does "
        "not match any of the expected tags: 'text', 'image'"
    )
    turns[2]["content"][0]["content"] = [image_block(png_b64(), "image/gif")]
    assert message_of(body(tools=[WEATHER_TOOL], messages=turns)) == (
        "messages.2.content.0.tool_result.content.0.image.source.base64: The image was specified "
        "using the image/gif media type, but the image appears to be a image/png image"
    )


# -- thinking and metadata -----------------------------------------------------------------


def test_thinking():
    enabled = {"type": "enabled", "budget_tokens": 2048}
    assert invoke(body(max_tokens=4096, thinking=enabled), SONNET_4)
    assert message_of(body(max_tokens=4096, thinking=enabled), HAIKU) == (
        "claude-3-haiku-20240307 does not support extended thinking."
    )
    assert message_of(
        body(max_tokens=4096, thinking={"type": "enabled", "budget_tokens": 500}), SONNET_4
    ) == ("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
    assert message_of(body(max_tokens=2048, thinking=enabled), SONNET_4) == (
        "`max_tokens` must be greater than `thinking.budget_tokens`."
    )
    assert message_of(body(max_tokens=4096, thinking=enabled, temperature=0.5), SONNET_4) == (
        "`temperature` may only be set to 1 when thinking is enabled."
    )


def test_metadata():
    assert (
        message_of(body(metadata={"session": "x"}))
        == "metadata.session: Extra inputs are not permitted"
    )


# -- CountTokens ---------------------------------------------------------------------------


def _count_request(inner: dict | bytes, encode=True) -> bytes:
    raw = inner if isinstance(inner, bytes) else json.dumps(inner).encode()
    payload = base64.b64encode(raw).decode() if encode else raw.decode()
    return json.dumps({"input": {"invokeModel": {"body": payload}}}).encode()


def test_count_tokens_body():
    model, inner = validate_count_tokens(HAIKU, _count_request(body(system="Be brief.")))
    assert model.api_model == "claude-3-haiku-20240307"
    assert inner == body(system="Be brief.")
    assert validate_count_tokens(HAIKU, _count_request(body(), encode=False))[1] == body()


def test_count_tokens_accepts_base_ids_of_profile_only_models():
    model, _ = validate_count_tokens(
        "anthropic.claude-3-7-sonnet-20250219-v1:0", _count_request(body())
    )
    assert model.api_model == "claude-3-7-sonnet-20250219"


def test_count_tokens_validates_the_inner_body():
    data = body()
    del data["max_tokens"]
    with pytest.raises(BedrockError) as caught:
        validate_count_tokens(HAIKU, _count_request(data))
    assert caught.value.message == (
        "Malformed input request: #: required key [max_tokens] not found, "
        "please reformat your input and try again."
    )
    with pytest.raises(BedrockError) as caught:
        validate_count_tokens(HAIKU, b'{"input": {}}')
    assert caught.value.status == 400
    with pytest.raises(BedrockError) as caught:
        validate_count_tokens("anthropic.nope", _count_request(body()))
    assert caught.value.message == INVALID_MODEL


def test_count_tokens_converse_input():
    converse = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"text": "What is this?"},
                    {"image": {"format": "png", "source": {"bytes": png_b64()}}},
                ],
            }
        ],
        "system": [{"text": "Be brief."}],
    }
    request = json.dumps({"input": {"converse": converse}}).encode()
    model, inner = validate_count_tokens(HAIKU, request)
    assert inner["system"] == "Be brief."
    assert [b["type"] for b in inner["messages"][0]["content"]] == ["text", "image"]


# -- through a real boto3 client ------------------------------------------------------------


def _client_error(call):
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response


def test_boto3_sees_bedrock_validation_errors(bedrock_client):
    response = _client_error(
        lambda: bedrock_client.invoke_model(modelId=HAIKU_NOW, body=json.dumps(body(stream=True)))
    )
    assert response["Error"]["Code"] == "ValidationException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["Error"]["Message"] == (
        "Malformed input request: #: extraneous key [stream] is not permitted, "
        "please reformat your input and try again."
    )


def test_boto3_sees_the_on_demand_message(bedrock_client):
    response = _client_error(
        lambda: bedrock_client.invoke_model(
            modelId="anthropic.claude-sonnet-4-5-20250929-v1:0", body=json.dumps(body())
        )
    )
    assert response["Error"]["Message"] == ON_DEMAND_37.replace(
        "anthropic.claude-3-7-sonnet-20250219-v1:0", "anthropic.claude-sonnet-4-5-20250929-v1:0"
    )


def test_boto3_streaming_request_is_validated(bedrock_client):
    messages = [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]
    response = _client_error(
        lambda: bedrock_client.invoke_model_with_response_stream(
            modelId="arn:aws:bedrock:us-east-1:123456789012:inference-profile/" + HAIKU_NOW,
            body=json.dumps(body(messages=messages)),
        )
    )
    assert response["Error"]["Message"] == (
        'messages: roles must alternate between "user" and "assistant", but found multiple "user" roles in a row'
    )


def test_boto3_invalid_model_and_garbage(bedrock_client):
    response = _client_error(
        lambda: bedrock_client.invoke_model(modelId="anthropic.nope", body=b"{}")
    )
    assert response["Error"]["Message"] == INVALID_MODEL
    response = _client_error(
        lambda: bedrock_client.invoke_model(modelId=HAIKU_NOW, body=b"\x00\xff not json")
    )
    assert response["Error"]["Code"] == "ValidationException"
    assert response["Error"]["Message"].startswith("Malformed input request: ")


def test_boto3_count_tokens(bedrock_client):
    from claude_magic.emulator.responder.respond import estimate_input_tokens

    request = body(
        system="Count me.", messages=[user({"type": "text", "text": "How many?"}, image_block())]
    )
    response = bedrock_client.count_tokens(
        modelId=HAIKU_NOW_ID, input={"invokeModel": {"body": json.dumps(request)}}
    )
    assert response["inputTokens"] == estimate_input_tokens(request)
    bad = _client_error(
        lambda: bedrock_client.count_tokens(
            modelId=HAIKU_NOW_ID, input={"invokeModel": {"body": json.dumps(body(top_k=900))}}
        )
    )
    assert bad["Error"]["Message"] == (
        "Malformed input request: #/top_k: 900 is not less or equal to 500, please reformat your "
        "input and try again."
    )


# -- any body: a BedrockError or a valid reply, never a crash --------------------------------


def _fuzz_strategies():
    from hypothesis import strategies as st

    def mostly(good, bad):  # about one time in eight, anything at all
        return st.tuples(st.booleans(), st.booleans(), st.booleans()).flatmap(
            lambda coins: bad if all(coins) else good
        )

    scalars = (
        st.none()
        | st.booleans()
        | st.integers(-3, 70_000)
        | st.floats(allow_nan=False, allow_infinity=False, width=32)
        | st.text(max_size=12)
    )
    values = st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
        ),
        max_leaves=8,
    )
    small_png = png_b64(size=(3, 2))
    words = st.text(st.characters(codec="utf-8"), min_size=1, max_size=40).filter(
        lambda t: t.strip() == t and t
    )
    text_block = st.builds(lambda t: {"type": "text", "text": t}, words)
    user_blocks = st.lists(
        st.one_of(
            text_block,
            st.builds(lambda d: image_block(d), st.sampled_from([small_png, small_png, "@@"])),
            st.builds(
                lambda c, e: {
                    "type": "tool_result",
                    "tool_use_id": "t1",
                    "content": c,
                    "is_error": e,
                },
                st.one_of(words, st.just([image_block(small_png)])),
                st.booleans(),
            ),
            values,
        ),
        min_size=1,
        max_size=3,
    )
    assistant_blocks = st.lists(
        st.one_of(
            text_block,
            st.builds(
                lambda n: {"type": "tool_use", "id": "t1", "name": n, "input": {"city": "x"}},
                st.sampled_from(["get_weather", "other"]),
            ),
        ),
        min_size=1,
        max_size=2,
    )

    @st.composite
    def conversations(draw):
        turns = draw(st.integers(1, 4))
        messages = []
        for i in range(turns):
            role = "user" if i % 2 == 0 else "assistant"
            blocks = user_blocks if role == "user" else assistant_blocks
            messages.append({"role": role, "content": draw(st.one_of(words, blocks))})
        return draw(mostly(st.just(messages), st.lists(values, max_size=2)))

    optional = {
        "system": mostly(words, values),
        "temperature": mostly(st.floats(0, 1), values),
        "top_k": mostly(st.integers(0, 500), values),
        "stop_sequences": mostly(st.lists(words, max_size=3), values),
        "tools": mostly(st.just([WEATHER_TOOL]), st.lists(values, max_size=2)),
        "tool_choice": mostly(
            st.sampled_from(
                [
                    {"type": "any"},
                    {"type": "auto"},
                    {"type": "none"},
                    {"type": "tool", "name": "get_weather"},
                ]
            ),
            values,
        ),
        "anthropic_beta": mostly(st.just(["computer-use-2024-10-22"]), values),
        "thinking": mostly(st.just({"type": "enabled", "budget_tokens": 1024}), values),
    }
    bodies = st.fixed_dictionaries(
        {
            "anthropic_version": mostly(st.just("bedrock-2023-05-31"), values),
            "max_tokens": mostly(st.integers(1, 4096), values),
            "messages": conversations(),
        },
        optional=optional,
    )
    model_ids = st.sampled_from(
        [HAIKU, HAIKU, SONNET_V2, SONNET_4, CLAUDE_21, INSTANT, HAIKU_35, "nope"]
    )
    return bodies, model_ids


def test_any_body_gets_an_error_or_a_sound_reply():
    from hypothesis import HealthCheck, given, settings

    from claude_magic.core.messages import STOP_REASONS, estimate_text_tokens
    from claude_magic.emulator.responder.respond import respond

    bodies, model_ids = _fuzz_strategies()

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(bodies, model_ids)
    def check(data, model_id):
        try:
            model, parsed = invoke(data, model_id)
        except BedrockError as exc:
            assert exc.status == 400 and exc.message
            return
        message = respond(model, parsed)
        assert message.stop_reason in STOP_REASONS
        assert estimate_text_tokens(message.text) <= parsed["max_tokens"]
        assert message.usage.input_tokens >= 1 and message.usage.output_tokens >= 1

    check()
