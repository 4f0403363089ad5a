"""An agent cell's notebook tools without a notebook: their names and schemas, a step's
outcome as the tool_result Claude reads (text cut to size, tracebacks reduced to the
user's own frames without terminal codes, PNGs as image blocks, at most a few per step),
and run_tool turning an outcome into its tool_result."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field

import pytest
from helpers import png

from claude_magic.media.images import prepare_image
from claude_magic.tools import Approver, run_tool
from claude_magic.tools.cell_outputs import error_text, settle_carriage_returns, strip_ansi
from claude_magic.tools.notebook_tools import MAX_STEP_IMAGES, StepOutcome, agent_tools


@dataclass
class Workspace:
    """A workspace that answers from what it was given and remembers what it was asked."""

    outcome: StepOutcome = field(default_factory=lambda: StepOutcome(code=""))
    calls: list[tuple] = field(default_factory=list)

    def run_code(self, code: str) -> StepOutcome:
        self.calls.append(("run_code", code))
        return self.outcome

    def read_cells(self, start: int | None = None, end: int | None = None) -> str:
        self.calls.append(("read_cells", start, end))
        return f"cells {start}..{end}"

    def list_variables(self) -> str:
        self.calls.append(("list_variables",))
        return "df: DataFrame — shape (3, 2)"

    def inspect_variable(self, name: str) -> str:
        self.calls.append(("inspect_variable", name))
        return f"Variable `{name}`"


def _stream(text: str, name: str = "stdout") -> dict:
    return {"output_type": "stream", "name": name, "text": text}


def _png_output(colour=(200, 30, 30), kind: str = "display_data") -> dict:
    output = {
        "output_type": kind,
        "metadata": {},
        "data": {
            "image/png": base64.b64encode(png(colour, (64, 48))).decode("ascii"),
            "text/plain": "<Figure size 640x480 with 1 Axes>",
        },
    }
    if kind == "execute_result":
        output["execution_count"] = 4
    return output


def test_tools_are_named_and_described_with_schemas():
    tools = agent_tools(Workspace(), can_run=True)
    assert tools.names == ["run_code", "read_cells", "list_variables", "inspect_variable"]
    definitions = {d["name"]: d for d in tools.definitions()}
    assert definitions["run_code"]["input_schema"]["required"] == ["code"]
    assert definitions["run_code"]["input_schema"]["properties"]["code"]["type"] == "string"
    cells = definitions["read_cells"]["input_schema"]
    assert set(cells["properties"]) == {"start", "end"} and not cells.get("required")
    assert all(p["type"] == "integer" for p in cells["properties"].values())
    assert definitions["list_variables"]["input_schema"]["properties"] == {}
    assert definitions["inspect_variable"]["input_schema"]["required"] == ["name"]
    for definition in definitions.values():
        assert len(definition["description"]) > 60
    assert not any(tool.confirm for tool in tools)  # the workspace asks, not the tool loop
    json.dumps(tools.definitions())


def test_plan_mode_leaves_run_code_out():
    tools = agent_tools(Workspace(), can_run=False)
    assert tools.names == ["read_cells", "list_variables", "inspect_variable"]


def test_run_tool_calls_the_workspace_and_turns_an_outcome_into_its_result():
    workspace = Workspace(
        StepOutcome(
            code="1/0",
            status="error",
            execution_count=3,
            outputs=[
                {
                    "output_type": "error",
                    "ename": "ZeroDivisionError",
                    "evalue": "division by zero",
                    "traceback": ["\x1b[31mZeroDivisionError\x1b[39m: division by zero"],
                }
            ],
        )
    )
    tools = agent_tools(workspace, can_run=True)
    use = {"type": "tool_use", "id": "toolu_1", "name": "run_code", "input": {"code": "1/0"}}
    result = run_tool(use, tools, Approver())
    assert result["is_error"] is True and result["tool_use_id"] == "toolu_1"
    assert result["content"] == [{"type": "text", "text": "ZeroDivisionError: division by zero"}]
    assert workspace.calls == [("run_code", "1/0")]

    workspace.outcome = StepOutcome(code="x", outputs=[_stream("7\n")])
    result = run_tool(use, tools, Approver())
    assert "is_error" not in result and result["content"] == [{"type": "text", "text": "7"}]

    read = run_tool({"id": "t2", "name": "read_cells", "input": {"start": "2"}}, tools, Approver())
    assert read["content"] == "cells 2..None" and workspace.calls[-1] == ("read_cells", 2, None)
    bad = run_tool({"id": "t3", "name": "inspect_variable", "input": {}}, tools, Approver())
    assert bad["is_error"] is True and "Invalid input for inspect_variable" in bad["content"]
    assert workspace.calls[-1] == ("read_cells", 2, None)  # not called


def test_text_merges_streams_in_order_with_the_result():
    outcome = StepOutcome(
        code="...",
        execution_count=12,
        elapsed=0.42,
        outputs=[
            _stream("loading\n"),
            _stream("warning: slow\n", "stderr"),
            _stream(["done", "\n"]),
            {
                "output_type": "display_data",
                "data": {"text/plain": "<b>table</b>", "text/html": "<b>"},
                "metadata": {},
            },
            {
                "output_type": "display_data",
                "data": {"text/html": "<i>only html</i>"},
                "metadata": {},
            },
            {
                "output_type": "execute_result",
                "execution_count": 12,
                "data": {"text/plain": "42"},
                "metadata": {},
            },
        ],
    )
    [block] = outcome.content()
    assert block["text"] == (
        "loading\nwarning: slow\ndone\n<b>table</b>\n[a display of text/html]\nOut[12]: 42"
    )
    assert not outcome.is_error
    assert outcome.summary() == "ok · 6 lines · 0.4 s"
    assert StepOutcome(code="x = 1").content() == [{"type": "text", "text": "(no output)"}]
    assert StepOutcome(code="x = 1", elapsed=12.3).summary() == "ok · no output · 12 s"


def test_progress_bars_and_colours_are_settled():
    assert settle_carriage_returns("10%\r50%\r100%\nnext\n") == "100%\nnext\n"
    assert strip_ansi("\x1b[1;31mred\x1b[0m \x1b]8;;http://x\x07link\x1b]8;;\x07") == "red link"
    outcome = StepOutcome(code="", outputs=[_stream("\x1b[32mstep\x1b[0m 1/3\r2/3\r3/3\n")])
    assert outcome.content()[0]["text"] == "3/3"


def test_long_output_is_cut_in_the_middle_with_a_note():
    lines = "".join(f"line {i:05d}\n" for i in range(5000))  # 55,000 characters
    outcome = StepOutcome(code="", outputs=[_stream(lines)])
    [block] = outcome.content()
    text = block["text"]
    assert len(text) <= 10_000
    assert text.startswith("line 00000\n") and text.endswith("line 04999")
    cut = int(text.split("[... ")[1].split(" characters cut]")[0].replace(",", ""))
    assert len(text) - len(f"\n[... {cut:,} characters cut]\n") + cut == len(lines.rstrip("\n"))
    [small] = outcome.content(max_chars=2000)
    assert len(small["text"]) <= 2000


def test_an_error_keeps_the_users_frames_and_reduces_library_ones():
    frames = [
        "\x1b[31m---------------------------------------------------------------------------\x1b[39m",
        "\x1b[31mKeyError\x1b[39m                                  Traceback (most recent call last)",
        "\x1b[36mCell\x1b[39m \x1b[32mIn[7]\x1b[39m, line 3\n\x1b[32m      1\x1b[39m import pandas as pd\n"
        "\x1b[32m      2\x1b[39m df = pd.DataFrame({'a': [1]})\n\x1b[32m----> 3\x1b[39m df['b']\n",
        *[
            f"\x1b[36mFile \x1b[39m\x1b[32m/opt/env/lib/python3.11/site-packages/pandas/core/f{i}.py:{100 + i}"
            f"\x1b[39m, in \x1b[36mDataFrame.get{i}\x1b[39m\x1b[34m(self, key)\x1b[39m\n"
            f"\x1b[32m   {99 + i}\x1b[39m     x = 1\n\x1b[32m-> {100 + i}\x1b[39m     raise KeyError(key)\n"
            for i in range(5)
        ],
        "\x1b[31mKeyError\x1b[39m: 'b'",
    ]
    output = {"output_type": "error", "ename": "KeyError", "evalue": "'b'", "traceback": frames}
    text = error_text(output)
    assert "\x1b" not in text and "-----" not in text and "Traceback (most recent" not in text
    lines = text.splitlines()
    assert lines[0] == "KeyError: 'b'"
    assert lines[1:5] == [
        "  Cell In[7], line 3",
        "        1 import pandas as pd",
        "        2 df = pd.DataFrame({'a': [1]})",
        "  ----> 3 df['b']",
    ]
    assert lines[5:] == [
        "  File …/pandas/core/f0.py:100, in DataFrame.get0",
        "  [... 3 library frames]",
        "  File …/pandas/core/f4.py:104, in DataFrame.get4",
    ]
    outcome = StepOutcome(code="df['b']", status="error", outputs=[_stream("before\n"), output])
    assert outcome.is_error
    assert outcome.content()[0]["text"] == "before\n" + text
    assert outcome.summary().startswith("KeyError: 'b' · ")


def test_a_chained_error_names_its_cause():
    output = {
        "output_type": "error",
        "ename": "RuntimeError",
        "evalue": "wrapped",
        "traceback": [
            "Traceback (most recent call last)",
            "Cell In[2], line 2\n----> 2 int('x')\n",
            "ValueError: invalid literal for int() with base 10: 'x'",
            "\nThe above exception was the direct cause of the following exception:\n",
            "RuntimeError   Traceback (most recent call last)",
            "Cell In[2], line 4\n----> 4 raise RuntimeError('wrapped') from e\n",
            "RuntimeError: wrapped",
        ],
    }
    assert error_text(output).splitlines() == [
        "RuntimeError: wrapped",
        "  Cell In[2], line 4",
        "  ----> 4 raise RuntimeError('wrapped') from e",
        "Raised from: ValueError: invalid literal for int() with base 10: 'x'",
    ]


def test_pngs_become_image_blocks_and_at_most_a_few_are_sent():
    outcome = StepOutcome(
        code="plot",
        outputs=[_stream("plotting\n"), _png_output(), _png_output(kind="execute_result")],
    )
    blocks = outcome.content()
    assert [b["type"] for b in blocks] == ["text", "image", "image"]
    assert (
        blocks[0]["text"]
        == "plotting\n[image 1]\nOut[4]: [image 2] <Figure size 640x480 with 1 Axes>"
    )
    expected = prepare_image(png((200, 30, 30), (64, 48))).to_block()
    assert blocks[1] == expected and blocks[1]["source"]["media_type"] == "image/png"
    assert outcome.summary() == "ok · 3 lines · 2 images · 0.0 s"

    many = StepOutcome(
        code="plots", outputs=[_png_output((i * 20, 0, 0)) for i in range(MAX_STEP_IMAGES + 3)]
    )
    blocks = many.content()
    assert [b["type"] for b in blocks] == ["text"] + ["image"] * MAX_STEP_IMAGES
    assert f"[3 more image(s) not sent: at most {MAX_STEP_IMAGES} per step" in blocks[0]["text"]

    broken = StepOutcome(
        code="",
        outputs=[
            {
                "output_type": "display_data",
                "metadata": {},
                "data": {"image/png": base64.b64encode(b"not a png").decode()},
            }
        ],
    )
    [block] = broken.content()
    assert "[image 1]" in block["text"] and "[image 1 could not be sent:" in block["text"]


@pytest.mark.parametrize(
    ("status", "note", "says", "summary"),
    [
        (
            "rejected",
            "use the cleaned data",
            "The user rejected this step; it did not run. Reason: use the cleaned data",
            "rejected: use the cleaned data",
        ),
        (
            "needs_approval",
            "no one can answer here (nbclient, papermill or no stdin)",
            "Nothing ran: this step needs the user's approval and no one can answer here (nbclient, papermill "
            "or no stdin). Stop and tell the user",
            "not run: needs approval",
        ),
        (
            "failed",
            "the notebook was closed",
            "The step could not be run: the notebook was closed",
            "failed: the notebook was closed",
        ),
    ],
)
def test_steps_that_did_not_run_say_why(status, note, says, summary):
    outcome = StepOutcome(code="x", status=status, note=note)
    [block] = outcome.content()
    assert block["text"].startswith(says)
    if status == "needs_approval":
        assert "--agent auto" in block["text"] and "--agent plan" in block["text"]
    assert outcome.is_error and not outcome.ran
    assert outcome.summary() == summary


def test_timeouts_and_interrupts_keep_the_output_until_then():
    stopped = {
        "output_type": "error",
        "ename": "KeyboardInterrupt",
        "evalue": "",
        "traceback": [
            "KeyboardInterrupt   Traceback (most recent call last)",
            "Cell In[5], line 2\n      1 import time\n----> 2 time.sleep(100)\n",
            "KeyboardInterrupt: ",
        ],
    }
    outcome = StepOutcome(
        code="",
        status="timeout",
        time_limit=30,
        elapsed=30.2,
        outputs=[_stream("started\n"), stopped],
    )
    text = outcome.content()[0]["text"]
    assert text.startswith(
        "The step was interrupted after 30 s, the time limit for a step "
        "(ClaudeMagic.agent_step_timeout). Output until then:\nstarted\nWhere it stopped:"
    )
    assert "----> 2 time.sleep(100)" in text and "KeyboardInterrupt" not in text
    assert outcome.is_error and outcome.summary() == "timed out after 30 s · 1 line"
    interrupted = StepOutcome(code="", status="interrupted", elapsed=1.5, outputs=[stopped])
    assert interrupted.content()[0]["text"].startswith("The user interrupted this step.")
    assert interrupted.summary() == "interrupted · 1.5 s"
