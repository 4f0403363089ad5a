"""The emulator's accepted request fields against the installed anthropic SDK's own request
types: a field the SDK gains (as `caller`, then `toolset_name`, were) fails here, not in a
user's tool loop. Each SDK field is either accepted by the emulator or listed below as one
it refuses on purpose, with the reason."""

from __future__ import annotations

import typing

import anthropic.types as sdk
import anthropic.types.beta as beta
import pytest
from anthropic.types.message_create_params import MessageCreateParamsBase

from claude_magic.emulator.cache import CACHE_CONTROL_KEYS
from claude_magic.emulator.validation.context import EDIT_KEYS
from claude_magic.emulator.validation.messages import BLOCK_KEYS, MESSAGE_KEYS
from claude_magic.emulator.validation.output_format import FORMAT_KEYS
from claude_magic.emulator.validation.request import METADATA_KEYS, TOP_LEVEL_TYPES
from claude_magic.emulator.validation.thinking import OUTPUT_CONFIG_KEYS, THINKING_KEYS
from claude_magic.emulator.validation.tools import (
    COMPUTER_TOOL_KEYS,
    CUSTOM_TOOL_BETA_KEYS,
    CUSTOM_TOOL_KEYS,
    PLAIN_TOOL_KEYS,
    TOOL_CHOICE_KEYS,
    TOOL_VERSION_KEYS,
)

NOT_EMULATED = "a feature the emulator does not offer"
TOOL_FEATURES = {
    "allowed_callers": "programmatic tool calling is " + NOT_EMULATED,
    "defer_loading": "tool search is " + NOT_EMULATED,
    "eager_input_streaming": "fine-grained tool input streaming is " + NOT_EMULATED,
    "strict": "strict tool use is " + NOT_EMULATED,
}
COMPUTER_TOOL_FEATURES = {
    **{k: v for k, v in TOOL_FEATURES.items() if k != "eager_input_streaming"},
    "input_examples": "tool input examples are offered for custom tools only",
}
CUSTOM_TOOL = CUSTOM_TOOL_KEYS | set(CUSTOM_TOOL_BETA_KEYS)
COMPUTER = COMPUTER_TOOL_KEYS
BASH = PLAIN_TOOL_KEYS
REQUEST = set(TOP_LEVEL_TYPES) | {"model"}  # the model travels in the URL
REQUEST_REFUSED = {
    "cache_control": "request-level automatic caching is " + NOT_EMULATED,
    "container": "code-execution containers are " + NOT_EMULATED,
    "diagnostics": "request diagnostics are " + NOT_EMULATED,
    "inference_geo": "Bedrock picks the geography by the inference profile",
    "service_tier": "Bedrock sets the service tier outside the body",
    "speed": "fast mode is " + NOT_EMULATED,
    "user_profile_id": "user profiles are " + NOT_EMULATED,
    "workspace_id": "workspaces belong to the Anthropic API, not Bedrock",
}


def editor(tool_type: str) -> set[str]:
    return PLAIN_TOOL_KEYS | TOOL_VERSION_KEYS.get(tool_type, set())


# (the SDK's TypedDict, the fields the emulator accepts, the fields it refuses and why)
PARITY = [
    (sdk.TextBlockParam, BLOCK_KEYS["text"], {}),
    (
        sdk.ImageBlockParam,
        BLOCK_KEYS["image"],
        {"transformations": "image transformations are " + NOT_EMULATED},
    ),
    (sdk.DocumentBlockParam, BLOCK_KEYS["document"], {}),
    (sdk.ToolUseBlockParam, BLOCK_KEYS["tool_use"], {}),
    (sdk.ToolResultBlockParam, BLOCK_KEYS["tool_result"], {}),
    (sdk.ThinkingBlockParam, BLOCK_KEYS["thinking"], {}),
    (sdk.RedactedThinkingBlockParam, BLOCK_KEYS["redacted_thinking"], {}),
    (sdk.UserMessageParam, MESSAGE_KEYS, {}),
    (sdk.AssistantMessageParam, MESSAGE_KEYS, {}),
    (sdk.ToolParam, CUSTOM_TOOL, TOOL_FEATURES),
    (sdk.ToolChoiceAutoParam, TOOL_CHOICE_KEYS["auto"], {}),
    (sdk.ToolChoiceAnyParam, TOOL_CHOICE_KEYS["any"], {}),
    (sdk.ToolChoiceToolParam, TOOL_CHOICE_KEYS["tool"], {}),
    (sdk.ToolChoiceNoneParam, TOOL_CHOICE_KEYS["none"], {}),
    (sdk.ThinkingConfigEnabledParam, THINKING_KEYS["enabled"], {}),
    (sdk.ThinkingConfigAdaptiveParam, THINKING_KEYS["adaptive"], {}),
    (sdk.ThinkingConfigDisabledParam, THINKING_KEYS["disabled"], {}),
    (sdk.OutputConfigParam, OUTPUT_CONFIG_KEYS, {}),
    (sdk.JSONOutputFormatParam, FORMAT_KEYS, {}),
    (sdk.MetadataParam, METADATA_KEYS, {}),
    (sdk.CacheControlEphemeralParam, CACHE_CONTROL_KEYS, {}),
    (MessageCreateParamsBase, REQUEST, REQUEST_REFUSED),
    # the beta namespace: what Bedrock takes through `client.beta.messages`
    (beta.BetaTextBlockParam, BLOCK_KEYS["text"], {}),
    (
        beta.BetaImageBlockParam,
        BLOCK_KEYS["image"],
        {"transformations": "image transformations are " + NOT_EMULATED},
    ),
    (beta.BetaRequestDocumentBlockParam, BLOCK_KEYS["document"], {}),
    (beta.BetaToolUseBlockParam, BLOCK_KEYS["tool_use"], {}),
    (beta.BetaToolResultBlockParam, BLOCK_KEYS["tool_result"], {}),
    (beta.BetaThinkingBlockParam, BLOCK_KEYS["thinking"], {}),
    (beta.BetaRedactedThinkingBlockParam, BLOCK_KEYS["redacted_thinking"], {}),
    (beta.BetaCompactionBlockParam, BLOCK_KEYS["compaction"], {}),
    (beta.BetaContextManagementConfigParam, {"edits"}, {}),
    (beta.BetaClearToolUses20250919EditParam, EDIT_KEYS["clear_tool_uses_20250919"], {}),
    (beta.BetaClearThinking20251015EditParam, EDIT_KEYS["clear_thinking_20251015"], {}),
    (beta.BetaCompact20260112EditParam, EDIT_KEYS["compact_20260112"], {}),
    (beta.BetaToolParam, CUSTOM_TOOL, TOOL_FEATURES),
    (beta.BetaToolChoiceAutoParam, TOOL_CHOICE_KEYS["auto"], {}),
    (beta.BetaToolChoiceAnyParam, TOOL_CHOICE_KEYS["any"], {}),
    (beta.BetaToolChoiceToolParam, TOOL_CHOICE_KEYS["tool"], {}),
    (beta.BetaToolChoiceNoneParam, TOOL_CHOICE_KEYS["none"], {}),
    (beta.BetaCacheControlEphemeralParam, CACHE_CONTROL_KEYS, {}),
    (beta.BetaMetadataParam, METADATA_KEYS, {}),
    (beta.BetaToolComputerUse20241022Param, COMPUTER, COMPUTER_TOOL_FEATURES),
    (beta.BetaToolComputerUse20250124Param, COMPUTER, COMPUTER_TOOL_FEATURES),
    (beta.BetaToolComputerUse20251124Param, COMPUTER, COMPUTER_TOOL_FEATURES),
    (beta.BetaToolBash20241022Param, BASH, COMPUTER_TOOL_FEATURES),
    (beta.BetaToolBash20250124Param, BASH, COMPUTER_TOOL_FEATURES),
    (beta.BetaToolTextEditor20241022Param, editor("text_editor_20241022"), COMPUTER_TOOL_FEATURES),
    (beta.BetaToolTextEditor20250124Param, editor("text_editor_20250124"), COMPUTER_TOOL_FEATURES),
    (beta.BetaToolTextEditor20250429Param, editor("text_editor_20250429"), COMPUTER_TOOL_FEATURES),
    (beta.BetaToolTextEditor20250728Param, editor("text_editor_20250728"), COMPUTER_TOOL_FEATURES),
]


def sdk_fields(typed_dict: type) -> set[str]:
    return set(typing.get_type_hints(typed_dict))


@pytest.mark.parametrize(
    ("typed_dict", "accepted", "refused"), PARITY, ids=lambda v: getattr(v, "__name__", "")
)
def test_every_sdk_field_is_accepted_or_refused_on_purpose(typed_dict, accepted, refused):
    unknown = sdk_fields(typed_dict) - set(accepted) - set(refused)
    assert not unknown, (
        f"the anthropic SDK's {typed_dict.__name__} has fields the emulator refuses: "
        f"{sorted(unknown)}; accept them as Bedrock does, or list them here with why"
    )


@pytest.mark.parametrize(
    ("typed_dict", "accepted", "refused"), PARITY, ids=lambda v: getattr(v, "__name__", "")
)
def test_the_refused_fields_are_real_and_really_refused(typed_dict, accepted, refused):
    assert set(refused) <= sdk_fields(typed_dict)
    assert not set(refused) & set(accepted)


BETA_ONLY = {"compaction"}  # block types only the beta namespace has


def test_every_block_type_the_emulator_takes_is_compared():
    compared = {t.__name__ for t, _, _ in PARITY}
    for kind in BLOCK_KEYS:
        name = "".join(part.title() for part in kind.split("_")) + "BlockParam"
        assert kind in BETA_ONLY or name in compared
        assert "Beta" + name.replace("Document", "RequestDocument") in compared


# -- the fields accepted beyond the block echoes, through the SDK ---------------------------

OPUS = "us.anthropic.claude-opus-4-7"
LOOKUP = {
    "name": "lookup",
    "description": "Look a word up.",
    "input_schema": {
        "type": "object",
        "properties": {"word": {"type": "string"}},
        "required": ["word"],
    },
    "input_examples": [{"word": "emulator"}],
}


@pytest.fixture
def client(emulator):
    from anthropic import AnthropicBedrock

    return AnthropicBedrock(
        base_url=emulator.url,
        aws_region="us-east-1",
        aws_access_key="testing",
        aws_secret_key="testing",
        max_retries=0,
    )


def test_input_examples_come_with_the_tool_examples_beta(client):
    import anthropic

    reply = client.beta.messages.create(
        model=OPUS,
        max_tokens=300,
        tools=[LOOKUP],
        betas=[CUSTOM_TOOL_BETA_KEYS["input_examples"]],
        messages=[{"role": "user", "content": "Look up emulator"}],
    )
    assert reply.stop_reason == "tool_use"
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(
            model=OPUS,
            max_tokens=300,
            tools=[LOOKUP],
            messages=[{"role": "user", "content": "Look up emulator"}],
        )
    assert "tools.0.custom.input_examples: Extra inputs are not permitted" in str(caught.value)


def test_the_newest_text_editor_takes_max_characters(client):
    import anthropic

    editor_tool = {
        "type": "text_editor_20250728",
        "name": "str_replace_based_edit_tool",
        "max_characters": 5000,
    }
    reply = client.beta.messages.create(
        model=OPUS,
        max_tokens=300,
        tools=[editor_tool],
        betas=["computer-use-2025-11-24"],
        messages=[{"role": "user", "content": "Open the file"}],
    )
    assert reply.stop_reason in ("tool_use", "end_turn")
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.beta.messages.create(
            model=OPUS,
            max_tokens=300,
            tools=[{**editor_tool, "max_characters": 0}],
            betas=["computer-use-2025-11-24"],
            messages=[{"role": "user", "content": "Open the file"}],
        )
    assert "max_characters: Input should be greater than or equal to 1" in str(caught.value)
