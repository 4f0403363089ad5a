"""The catalogue: aliases to ids per region and geography, lifecycles by date, unknown
ids passed through, prices with cache, batch and geographic profiles."""

from __future__ import annotations

from datetime import date

import pytest

from claude_magic.models import catalog
from claude_magic.models.catalog import RetiredModel, UnknownModel, resolve

TODAY = date(2026, 12, 1)

ALIASES = [
    # name, region, geography, the id sent
    ("sonnet", "us-east-1", "auto", "us.anthropic.claude-sonnet-5-5"),
    ("sonnet", "eu-west-1", "auto", "eu.anthropic.claude-sonnet-5-5"),
    ("sonnet", "ap-northeast-1", "auto", "global.anthropic.claude-sonnet-5-5"),
    ("opus", "ap-northeast-1", "auto", "jp.anthropic.claude-opus-5-5"),
    ("opus", "ap-southeast-2", "auto", "au.anthropic.claude-opus-5-5"),
    ("opus", "us-west-2", "global", "global.anthropic.claude-opus-5-5"),
    ("haiku", "eu-central-1", "auto", "eu.anthropic.claude-haiku-5-5"),
    ("haiku", "ap-southeast-2", "auto", "global.anthropic.claude-haiku-5-5"),
    ("fable", "eu-west-1", "auto", "global.anthropic.claude-fable-5-1"),
    ("fable-5", "us-east-1", "auto", "us.anthropic.claude-fable-5"),
    ("sonnet-5", "ap-southeast-2", "auto", "au.anthropic.claude-sonnet-5"),
    ("opus-4.7", "ap-northeast-3", "auto", "jp.anthropic.claude-opus-4-7"),
    ("opus-4.6", "ap-south-1", "auto", "apac.anthropic.claude-opus-4-6-v1"),
    ("opus-4.6", "ap-northeast-1", "apac", "apac.anthropic.claude-opus-4-6-v1"),
    ("sonnet-4.6", "ap-northeast-1", "auto", "jp.anthropic.claude-sonnet-4-6"),
    ("sonnet-4.5", "ap-northeast-1", "auto", "apac.anthropic.claude-sonnet-4-5-20250929-v1:0"),
    ("claude-sonnet-4-5", "us-east-1", "auto", "us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
    ("Claude Haiku 4.5", "eu-west-3", "auto", "eu.anthropic.claude-haiku-4-5-20251001-v1:0"),
    ("opus-4.8", "eu-west-1", "eu", "global.anthropic.claude-opus-4-8"),  # no eu. profile
    ("opus-4.1", "eu-west-1", "auto", "us.anthropic.claude-opus-4-1-20250805-v1:0"),  # its only one
    ("anthropic.claude-opus-4-7", "eu-west-1", "auto", "anthropic.claude-opus-4-7"),  # ids as typed
    ("jp.anthropic.claude-opus-4-7", "us-east-1", "auto", "jp.anthropic.claude-opus-4-7"),
]


@pytest.mark.parametrize(("name", "region", "geography", "sent"), ALIASES)
def test_aliases_to_ids_per_region(name, region, geography, sent):
    assert resolve(name, region, geography=geography, today=TODAY).invoke_id == sent


def test_bare_aliases_name_the_newest_active_model_of_the_day():
    assert catalog.aliases(TODAY)["sonnet"].name == "Claude Sonnet 5.5"
    assert catalog.aliases(date(2026, 9, 1))["sonnet"].name == "Claude Sonnet 5"
    assert catalog.aliases(TODAY)["opus"].name == "Claude Opus 5.5"
    assert catalog.aliases(TODAY)["haiku"].name == "Claude Haiku 5.5"
    assert catalog.aliases(date(2026, 10, 1))["haiku"].name == "Claude Haiku 4.5"
    assert catalog.aliases(TODAY)["fable"].name == "Claude Fable 5.1"


def test_retired_models_name_the_date_and_what_to_use():
    with pytest.raises(RetiredModel) as caught:
        resolve("sonnet-4", today=TODAY)
    assert caught.value.model.end_of_life == date(2026, 10, 14)
    assert caught.value.replacement.name == "Claude Sonnet 5.5"
    assert resolve("sonnet-4", today=date(2026, 10, 13)).model.name == "Claude Sonnet 4"
    with pytest.raises(RetiredModel):
        resolve("anthropic.claude-3-5-sonnet-20241022-v2:0", today=TODAY)
    assert catalog.lookup("anthropic.claude-opus-4-1-20250805-v1:0").status(TODAY) == "legacy"
    with pytest.raises(RetiredModel):
        resolve("opus-4.1", today=date(2027, 1, 8))


def test_every_seed_model_is_kept_and_retired():
    seed = [
        "anthropic.claude-instant-v1",
        "anthropic.claude-v2",
        "anthropic.claude-v2:1",
        "anthropic.claude-3-haiku-20240307-v1:0",
        "anthropic.claude-3-sonnet-20240229-v1:0",
        "anthropic.claude-3-opus-20240229-v1:0",
        "anthropic.claude-3-5-sonnet-20240620-v1:0",
        "anthropic.claude-3-5-sonnet-20241022-v2:0",
        "anthropic.claude-3-5-haiku-20241022-v1:0",
        "anthropic.claude-3-7-sonnet-20250219-v1:0",
        "anthropic.claude-sonnet-4-20250514-v1:0",
        "anthropic.claude-opus-4-20250514-v1:0",
    ]
    assert {catalog.lookup(i).status(TODAY) for i in seed} == {"retired"}


def test_unknown_ids_pass_through_with_their_familys_rules():
    resolved = resolve("us.anthropic.claude-opus-6", today=TODAY)
    assert resolved.invoke_id == "us.anthropic.claude-opus-6" and resolved.via_profile
    model = resolved.model
    assert not model.known and model.family == "opus" and model.profiles == ("us",)
    assert (model.sampling, model.thinking) == (False, "always")  # like Opus 5.5
    with pytest.raises(UnknownModel):
        resolve("gpt-4", today=TODAY)


def test_profile_ids_and_geographies_per_model():
    opus_47 = catalog.lookup("anthropic.claude-opus-4-7")
    assert opus_47.profiles == ("us", "eu", "jp", "au", "global")
    assert catalog.lookup("au.anthropic.claude-opus-4-7") is opus_47
    assert catalog.lookup("apac.anthropic.claude-opus-4-7") is None
    assert catalog.geographies_for_region("ap-northeast-1") == ("jp", "apac")
    assert catalog.geography_for_region("ap-southeast-4") == "au"


def test_prices_with_cache_batch_and_profiles():
    sonnet_5 = catalog.lookup("anthropic.claude-sonnet-5")
    assert sonnet_5.cost(1_000_000, 1_000_000) == pytest.approx(18.0)
    assert sonnet_5.cost(0, 0, cache_write_tokens=1_000_000) == pytest.approx(3.75)
    assert sonnet_5.cost(0, 0, cache_write_tokens=1_000_000, cache_ttl="1h") == pytest.approx(6.0)
    assert sonnet_5.cost(0, 0, cache_read_tokens=1_000_000) == pytest.approx(0.3)
    assert sonnet_5.cost(1_000_000, 1_000_000, batch=True) == pytest.approx(9.0)
    assert catalog.cost_of("global.anthropic.claude-sonnet-5", 1_000_000, 0) == pytest.approx(3.0)
    assert catalog.cost_of("us.anthropic.claude-sonnet-5", 1_000_000, 0) == pytest.approx(3.3)
    assert catalog.cost_of(
        "us.anthropic.claude-opus-4-1-20250805-v1:0", 1_000_000, 0
    ) == pytest.approx(15.0)
    assert catalog.cost_of("us.anthropic.claude-opus-6", 1, 1) is None  # not priced, not guessed
    assert catalog.PRICES_AS_OF == "2026-11-15"


def test_computer_use_versions_of_the_newer_models():
    from claude_magic.tools.computer import newest_computer_use

    for model_id in (
        "anthropic.claude-opus-4-5-20251101-v1:0",
        "anthropic.claude-sonnet-5-5",
        "anthropic.claude-opus-4-6-v1",
    ):
        version = newest_computer_use(catalog.lookup(model_id))
        assert (version.beta, version.computer, version.text_editor, version.text_editor_name) == (
            "computer-use-2025-11-24",
            "computer_20251124",
            "text_editor_20250728",
            "str_replace_based_edit_tool",
        )
    haiku = newest_computer_use(catalog.lookup("anthropic.claude-haiku-4-5-20251001-v1:0"))
    assert haiku.computer == "computer_20250124"


def test_suggestions_name_only_models_one_can_call_today():
    today = catalog.current_date()  # pinned by CLAUDE_MAGIC_TODAY in the tests
    for typed in ("claude-sonnet-9", "sonet", "opus-4", "claude-instant", "haiku-3"):
        for alias in catalog.suggest(typed):
            model = catalog.aliases(today)[alias]
            assert model.status(today) != "retired" and model.launched <= today, (typed, alias)
    assert catalog.suggest("claude-sonnet-9")[0].startswith("sonnet")
    assert "sonnet" in catalog.suggest("sonet")
