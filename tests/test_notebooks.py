"""The demo notebooks: stored clean, and each one runs top to bottom headless, with no
AWS credentials, so that its own first cells pick the built-in emulator."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
EXPECTED_NAMES = [
    "01-quickstart.ipynb",
    "02-plots-as-prompts.ipynb",
    "03-tools.ipynb",
    "04-computer-use.ipynb",
    "05-offline-testing.ipynb",
    "06-agent.ipynb",
]
# What each notebook's run must show besides answers: behaviour the notebook demonstrates.
EXPECTED_OUTPUT = {
    "01-quickstart.ipynb": [
        "Offline mode: using the built-in Bedrock emulator",
        "cut off at max_tokens",
        "stop_sequence",
        "poet: 2 turns",
        "[offline emulator]",
    ],
    "02-plots-as-prompts.ipynb": [
        "original: 4000 × 3000 px",
        "sent:     1568 × 1176 px",
        "JPEG, 1568 × 1176 px",
        "PNG, 480 × 240 px",
    ],
    "03-tools.ipynb": [
        '"sky": "light rain"',
        "Not run: this tool needs the user's approval",
        "0 email(s) in the outbox",
        "1 email(s) in the outbox",
        "Sent to team@example.com.",
        "Oslo: 3.5 °C, 70 % humidity",
        "demo__station_reading (read-only)",
        "Stopped MCP server 'demo'.",
    ],
    "04-computer-use.ipynb": [
        "Not run: this tool needs the user's approval",
        "./notes.txt",
        "the scratch folder is deleted",
    ],
    "05-offline-testing.ipynb": [
        "6 × 7 = 42.",
        "'name': 'calculator'",
        "3 attempts, statuses [429, 429, 200]",
        "disconnect: ProtocolError",
        "stream_exception: EventStreamError",
        "2 passed",
        "hello from *your* emulator",
        "(scripted over HTTP): hi!",
    ],
    "06-agent.ipynb": [
        "needs the user's approval",
        "Agent, plan",
        "2 steps run",
        "step 2: ['text', 'image']",
        "dates fixed: datetime64",
        "🔧 run_code",
    ],
}
ACTIVE_HTML = ("<script", "onerror=", "onclick=", "javascript:")


def test_every_demo_notebook_is_there():
    assert [p.name for p in NOTEBOOKS] == EXPECTED_NAMES


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_clean(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert nb.metadata["kernelspec"]["language"] == "python"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]
        assert "execution" not in cell.get("metadata", {})
    intro, setup = nb.cells[0], nb.cells[1]
    assert intro.cell_type == "markdown"
    assert "CLAUDE_MAGIC_OFFLINE=1" in intro.source and "credentials" in intro.source
    assert setup.cell_type == "code"
    assert setup.source.startswith("%load_ext claude_magic") and "%claude offline" in setup.source


@pytest.fixture
def no_aws_credentials(monkeypatch, tmp_path):
    """Kernels started by the test see no AWS credentials and no claude-magic settings."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "CLAUDE_MAGIC_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # an instance role would be credentials


def _outputs_text(nb: nbformat.NotebookNode) -> str:
    parts = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            parts += [v for k, v in output.get("data", {}).items() if k.startswith("text/")]
    return "\n".join(parts)


def claude_answers(nb: nbformat.NotebookNode) -> list[tuple[str, dict]]:
    """(cell source, final display bundle) for every %%claude cell."""
    answers = []
    for cell in nb.cells:
        if cell.cell_type != "code" or not cell.source.startswith("%%claude"):
            continue
        bundles = [
            o["data"]
            for o in cell.outputs
            if o["output_type"] in ("display_data", "execute_result")
        ]
        assert bundles, f"no answer shown for {cell.source!r}"
        answers.append((cell.source, bundles[-1]))
    return answers


@pytest.mark.timeout(300)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_offline(path, tmp_path, no_aws_credentials, run_notebook):
    copy = tmp_path / path.name
    shutil.copy(path, copy)
    nb = nbformat.read(copy, as_version=4)
    run_notebook(nb, tmp_path, timeout=180)

    errors = [o for c in nb.cells for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert not errors
    answers = claude_answers(nb)
    assert answers
    for source, bundle in answers:
        # the static bundle, not the live widget, is what the saved notebook keeps
        assert {"text/html", "text/markdown", "text/plain"} <= set(bundle), source
        assert "application/vnd.jupyter.widget-view+json" not in bundle
        assert "offline emulator" in bundle["text/markdown"].lower(), source
        assert "out tokens" in bundle["text/plain"]
        assert not any(marker in bundle["text/html"].lower() for marker in ACTIVE_HTML), source
    text = _outputs_text(nb)
    for expected in EXPECTED_OUTPUT[path.name]:
        assert expected in text, expected
    if path.name == "02-plots-as-prompts.ipynb":
        image_answers = [b for s, b in answers if "--image" in s.splitlines()[0]]
        assert image_answers and all(
            'src="data:image/png;base64,' in b["text/html"] for b in image_answers
        )


def test_quickstarts_stop_demo_shows_the_list_up_to_the_stop(shell, emulator):
    """Offline (the emulator echoes the prompt) as on Bedrock (Claude writes the list), the
    --stop cell's answer is the start of the list, ending where "four" would begin."""
    nb = nbformat.read(NOTEBOOKS_DIR / "01-quickstart.ipynb", as_version=4)
    source = next(
        c.source for c in nb.cells if c.cell_type == "code" and "--stop" in c.source.split("\n")[0]
    )
    run = shell.run(source)
    assert run.success, run.stdout + run.stderr
    reply = shell.magic.session.chats.get().turns[-1].replies[-1]
    assert reply.stop_reason == "stop_sequence" and "four" not in reply.text
    assert re.findall(r"^(?:> )?- (\w+)$", reply.text, re.MULTILINE) == ["one", "two", "three"]


def test_jupyters_checkpoints_are_ignored_by_git():
    if not (NOTEBOOKS_DIR.parent / ".git").exists():
        pytest.skip("not a git checkout")
    for folder in (NOTEBOOKS_DIR, NOTEBOOKS_DIR.parent):
        probe = folder / ".ipynb_checkpoints" / "01-quickstart-checkpoint.ipynb"
        check = subprocess.run(["git", "check-ignore", "-q", str(probe)], cwd=NOTEBOOKS_DIR.parent)
        assert check.returncode == 0, probe
