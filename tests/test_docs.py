"""The documentation: its generated parts say what the code says (the cell's argument
parser, the settings traits, the catalogue, the modules), every page is in the site's
navigation, the README's links lead somewhere, and the version is written once."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import pytest
import traitlets
from test_commands_registry import DOCS, docs_hooks

import claude_magic
from claude_magic.models import catalog
from claude_magic.notebook.magics import ClaudeMagic

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = DOCS.parent


@pytest.fixture(scope="module")
def hooks():
    return docs_hooks()


def table_rows(table: str) -> list[str]:
    return [line for line in table.splitlines() if line.startswith("| ")][1:]


def test_the_options_table_has_each_option_of_the_parser_once(hooks):
    rows = table_rows(hooks.cell_options())
    actions = [
        a for a in ClaudeMagic.claude.parser._actions if not isinstance(a, argparse._HelpAction)
    ]
    assert len(rows) == len(actions)
    for row, action in zip(rows, actions, strict=True):
        first = row.split(" | ")[0]
        assert all(f"`{flag}" in first for flag in action.option_strings), (
            row,
            action.option_strings,
        )
        assert " ".join((action.help or "").split()) in row.replace("\\|", "|")
    assert "| `-m`, `--model NAME` |" in hooks.cell_options()
    assert "`--effort low\\|medium\\|high\\|xhigh\\|max`" in hooks.cell_options()
    assert "`--above [N]`" in hooks.cell_options()


def test_the_settings_table_has_each_trait_with_its_default(hooks):
    table = hooks.settings()
    configurable = ClaudeMagic.class_traits(config=True)
    rows = table_rows(table)
    assert [row.split(" | ")[0].strip("| `") for row in rows] == [
        name for name in vars(ClaudeMagic) if name in configurable
    ]
    assert '| `model` | str | `"sonnet"` |' in table
    assert "| `max_tokens` | int | `4096` |" in table
    assert "| `tools` | list | `[]` |" in table
    assert "`invoke` \\| `converse` \\| `mantle`" in table
    for name, trait in configurable.items():
        assert isinstance(trait, traitlets.TraitType) and trait.help, f"{name} has no help to show"


def test_the_models_page_has_every_catalogue_model(hooks):
    page = hooks.models()
    today = catalog.current_date()
    for model in catalog.MODELS:
        assert f"`{model.id}`" in page
        if model.status(today) != "retired":
            assert f"| {model.name}<br>" in page
    assert f"Prices as of {catalog.PRICES_AS_OF}" in page
    assert f"`{catalog.aliases(today)['sonnet'].versioned_aliases[0]}`" in page


def test_the_module_map_lists_every_module(hooks):
    shown = hooks.module_map()
    package = Path(claude_magic.__file__).parent
    for path in package.rglob("*.py"):
        if path.name.startswith("_") or "labextension" in path.parts:
            continue
        assert re.search(rf"^\s+{re.escape(path.name)}\s", shown, re.MULTILINE), path


def test_every_marker_names_a_generator_and_every_generator_is_used(hooks):
    used = set()
    for page in DOCS.rglob("*.md"):
        used |= set(hooks.MARKER.findall(page.read_text()))
    assert used == set(hooks.GENERATORS)
    from mkdocs.exceptions import PluginError

    with pytest.raises(PluginError, match="no generator named 'nosuch'"):
        hooks.generate("<!-- generated: nosuch -->", "x.md")


def test_every_page_is_in_the_navigation():
    config = (ROOT / "mkdocs.yml").read_text()
    nav = set(re.findall(r":\s+([\w/-]+\.md)$", config, re.MULTILINE))
    pages = {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md")}
    assert pages == nav


def test_the_readme_is_a_front_page_whose_links_lead_somewhere():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    assert "bash binder/demo" in readme and "bash .ci/run" in readme
    links = re.findall(r"\]\(((?!https?:)[^)#]+)(?:#[^)]*)?\)", readme)
    assert "docs/reference/options.md" in links
    for link in links:
        assert (ROOT / link).exists(), link


def test_the_version_is_written_once():
    version = claude_magic.__version__
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in pyproject["project"] and "version" in pyproject["project"]["dynamic"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "claude_magic.__version__"
    }
    labextension = json.loads((ROOT / "labextension" / "package.json").read_text())
    assert labextension["version"] == version, "labextension/package.json follows __version__"
    assert f"## [{version}]" in (ROOT / "CHANGELOG.md").read_text()
