"""Tools: Python functions Claude may call, and the computer-use tools.

Schemas from signatures and docstrings (`schema`, `docstrings`), tool sets (`toolset`),
approval (`approval`), one call into a `tool_result` (`results`), the loop (`loop`), the
computer-use tools (`computer`, `bash`, `text_editor`), and an agent cell's notebook tools
(`notebook_tools`, reading cell outputs with `cell_outputs`).

May import `core`, `models` and `bedrock`; never IPython or ipywidgets.
"""

from .approval import (
    DECLINED,
    INTERRUPTED,
    NO_ONE_TO_ASK,
    NOT_RUN_INTERRUPTED,
    STEP_LIMIT_REACHED,
    Approver,
    stdin_available,
)
from .loop import LoopResult, ToolLoopInterrupted, run_tool_loop
from .results import result_content, run_tool
from .schema import (
    ToolDefinitionError,
    ToolError,
    call_with_input,
    check_tool_name,
    is_tool,
    tool,
    tool_schema,
)
from .toolset import Tool, ToolSet, tool_choice_for

__all__ = [
    "DECLINED",
    "INTERRUPTED",
    "NOT_RUN_INTERRUPTED",
    "NO_ONE_TO_ASK",
    "STEP_LIMIT_REACHED",
    "Approver",
    "LoopResult",
    "Tool",
    "ToolDefinitionError",
    "ToolError",
    "ToolLoopInterrupted",
    "ToolSet",
    "call_with_input",
    "check_tool_name",
    "is_tool",
    "result_content",
    "run_tool",
    "run_tool_loop",
    "stdin_available",
    "tool",
    "tool_choice_for",
    "tool_schema",
]
