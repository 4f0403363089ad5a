"""The configuration as one frozen snapshot, the cell's options as typed frozen
fields: one set of defaults for cells and the Python API."""

from __future__ import annotations

import dataclasses

import pytest
from magic_helpers import last_body

import claude_magic
from claude_magic.core.errors import ClaudeMagicError
from claude_magic.notebook.config import DEFAULTS, Config
from claude_magic.notebook.magics import ClaudeMagic
from claude_magic.notebook.options import CellOptions

HAIKU = "us.anthropic.claude-haiku-4-5-20251001-v1:0"


def test_every_trait_is_a_config_field_with_the_same_default():
    traits = ClaudeMagic.class_traits(config=True)
    assert set(traits) == set(Config.names())
    for name, trait in traits.items():
        default = trait.default()
        expected = getattr(DEFAULTS, name)
        assert (tuple(default) if isinstance(default, list) else default) == expected, name


def test_the_snapshot_is_frozen_and_follows_config(shell):
    shell.run("%config ClaudeMagic.max_tokens = 77")
    config = shell.magic.session.config()
    assert config.max_tokens == 77
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.max_tokens = 5  # type: ignore[misc]
    shell.run("%config ClaudeMagic.max_tokens = 99")
    assert config.max_tokens == 77 and shell.magic.session.config().max_tokens == 99


def test_cell_options_have_a_field_for_every_argument_and_the_same_defaults(shell):
    parser = shell.ip.magics_manager.magics["cell"]["claude"].parser
    assert CellOptions.from_namespace(parser.parse_args([])) == CellOptions()
    parsed = CellOptions.from_namespace(parser.parse_args(["--image", "3", "--image", "_", "-b"]))
    assert parsed.image == ("3", "_") and parsed.background is True
    with pytest.raises(dataclasses.FrozenInstanceError):
        parsed.chat = "x"  # type: ignore[misc]
    with pytest.raises(TypeError, match="no field for option 'shiny'"):
        import argparse

        CellOptions.from_namespace(argparse.Namespace(shiny=True))


def test_ranges_are_checked_before_anything_is_sent():
    with pytest.raises(ClaudeMagicError, match="--top-k must be between 0 and 500, not 900"):
        CellOptions(top_k=900).check_ranges()
    CellOptions(temperature=0.5, max_steps=3).check_ranges()


def test_ask_reads_the_same_configuration_as_cells(shell, emulator):
    shell.run("%config ClaudeMagic.max_tokens = 123")
    shell.run('%config ClaudeMagic.system = "Be terse."')
    claude_magic.ask("Hi", model=HAIKU)
    body = last_body(emulator)
    assert body["max_tokens"] == 123 and body["system"] == "Be terse."
    run = shell.ask(f"-m {HAIKU} --no-stream", "Hi")
    assert run.success, run.stderr
    cell_body = last_body(emulator)
    assert cell_body["max_tokens"] == 123 and cell_body["system"] == "Be terse."


def test_without_the_magic_ask_uses_the_defaults(emulator, aws_env, monkeypatch):
    monkeypatch.setenv("CLAUDE_MAGIC_ENDPOINT_URL", emulator.url)
    claude_magic.ask("Hi", model=HAIKU)
    assert last_body(emulator)["max_tokens"] == DEFAULTS.max_tokens
