"""The kernel session: the service every notebook module takes. It holds the shell,
the conversations, the output recorder, background answers, Bedrock clients, the
built-in emulator and the hooks that tell which cell is running, and reads the
configuration from where it lives (the magic's traits) as a frozen `Config`."""

from __future__ import annotations

import importlib
import os
import sys
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ..core.conversation import Chats
from .config import Config, Configured
from .frontend import FrontEnd

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

    from ..bedrock.client import BedrockClient
    from ..bedrock.settings import ClientSettings
    from ..emulator import Emulator
    from ..models.catalog import Model
    from ..tools.computer import ComputerUseHandlers
    from ..tools.mcp.hub import McpHub
    from .outputs import OutputRecorder

OFFLINE_ENV = "CLAUDE_MAGIC_OFFLINE"
ENDPOINT_ENV = "CLAUDE_MAGIC_ENDPOINT_URL"


def env_offline() -> bool:
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


class Closable(Protocol):
    def close(self) -> None: ...


@dataclass
class RunningCell:
    """What the front end told us about the cell being executed."""

    cell_id: str | None = None
    execution_count: int | None = None
    source: str = ""


_sessions: dict[int, KernelSession] = {}  # id(shell) -> its session, while loaded


def session_of(shell: Any) -> KernelSession | None:
    """The session of `shell`, if claude_magic is loaded there."""
    return _sessions.get(id(shell)) if shell is not None else None


class KernelSession:
    """Everything `%load_ext claude_magic` adds to one kernel; `close()` removes it all."""

    def __init__(self, shell: InteractiveShell, configured: Configured) -> None:
        self.shell = shell
        self._configured = configured
        config = configured.current_config()
        self.chats = Chats()
        self.cell = RunningCell()
        self._clients: dict[ClientSettings, BedrockClient] = {}
        self.emulator: Emulator | None = None
        self._computer: dict[str, ComputerUseHandlers] = {}
        self._mcp: McpHub | None = None  # the kernel's MCP servers, made on first use
        self.cell_help = ""  # what `%%claude?` shows (the magic's help), for `%claude help`
        self.offer: Any = None  # what the account offers (bedrock.discovery.Offer), after --refresh
        self.jobs: Closable | None = None  # background answers (background.jobs_of makes them)
        self.said: set[str] = set()  # notes printed once per kernel (e.g. "no X display")
        self._frontend: FrontEnd | None = (
            None  # the comm to the JupyterLab extension, once asked for
        )
        self.agent_cells: dict[
            str, dict[str, str]
        ] = {}  # agent cell id -> cells it inserted (id -> source)
        self.last_agent: Any = (
            None  # the latest agent cell's workspace (its steps, for a look afterwards)
        )
        from .outputs import OutputRecorder

        self.recorder: OutputRecorder = OutputRecorder(
            shell,
            max_cells=config.max_recorded_cells,
            max_image_bytes=config.max_recorded_image_mb * 1024 * 1024,
        )
        self.recorder.install()
        shell.events.register("pre_run_cell", self._pre_run_cell)
        if getattr(shell, "kernel", None) is not None:
            threading.Thread(target=warm_up, name="claude-magic-warm-up", daemon=True).start()
        _sessions[id(shell)] = self

    # -- configuration

    def config(self) -> Config:
        """The configuration now, as a frozen snapshot."""
        return self._configured.current_config()

    def configure(self, **changes: Any) -> None:
        """Change configuration values (as `%config ClaudeMagic.<name> = value` would)."""
        self._configured.set_config(**changes)

    def client_settings(self, config: Config | None = None) -> ClientSettings:
        """How to reach Bedrock: the configuration, then the environment, then offline
        mode (which starts the built-in emulator)."""
        from ..bedrock.settings import ClientSettings, boto_endpoint

        config = config or self.config()
        # CLAUDE_MAGIC_ENDPOINT_URL, else the trait, else boto3's AWS_ENDPOINT_URL_BEDROCK_RUNTIME
        # and AWS_ENDPOINT_URL (the order boto3 gives code and environment).
        endpoint = os.environ.get(ENDPOINT_ENV) or config.endpoint_url or boto_endpoint()
        offline = False
        if config.offline and not os.environ.get(ENDPOINT_ENV):
            endpoint = self.start_emulator(config.offline_pace).url
            offline = True
        return ClientSettings(
            region=config.region,
            profile=config.profile,
            endpoint_url=endpoint or None,
            retry_mode=config.retry_mode,
            max_attempts=config.max_attempts,
            read_timeout=config.read_timeout,
            offline=offline,
        )

    def _pre_run_cell(self, info: Any) -> None:
        count = self.shell.execution_count
        if getattr(info, "store_history", True) and _count_is_next():
            count -= 1
        self.cell = RunningCell(
            cell_id=getattr(info, "cell_id", None) or None,
            execution_count=count,
            source=getattr(info, "raw_cell", "") or "",
        )

    @property
    def frontend(self) -> FrontEnd:
        """The bridge to claude-magic's JupyterLab extension (made on first use)."""
        if self._frontend is None:
            self._frontend = FrontEnd(self.shell)
        return self._frontend

    def client(self, settings: ClientSettings) -> BedrockClient:
        """A cached client for these settings."""
        from ..bedrock.client import BedrockClient

        if settings not in self._clients:
            self._clients[settings] = BedrockClient(settings)
        return self._clients[settings]

    def start_emulator(self, pace: float | None = None) -> Emulator:
        """Start (once) the built-in emulator in this process."""
        if self.emulator is None:
            from ..emulator import Emulator

            self.emulator = Emulator(pace=pace)
            self.emulator.start()
        elif pace is not None:
            self.emulator.pace = pace
        return self.emulator

    def computer_use(self, model: Model) -> ComputerUseHandlers:
        """The computer-use handlers for `model` (one bash session per tool version)."""
        from ..tools.computer import ComputerUseHandlers, newest_computer_use

        key = newest_computer_use(model).computer
        if key not in self._computer:
            self._computer[key] = ComputerUseHandlers(model, root=os.getcwd())
        return self._computer[key]

    def mcp(self) -> McpHub:
        """The kernel's MCP servers (started on first use, stopped by `close`)."""
        if self._mcp is None:
            from ..tools.mcp.hub import McpHub

            self._mcp = McpHub()
        return self._mcp

    def close(self) -> None:
        """Remove every hook and stop what was started."""
        _sessions.pop(id(self.shell), None)
        if self.jobs is not None:  # first: the answers still talk to the emulator
            self.jobs.close()
            self.jobs = None
        if self._mcp is not None:
            self._mcp.close()
            self._mcp = None
        if self._frontend is not None:
            self._frontend.close()
            self._frontend = None
        for handlers in self._computer.values():
            handlers.close()
        self._computer.clear()
        try:
            self.shell.events.unregister("pre_run_cell", self._pre_run_cell)
        except ValueError:
            pass
        self.recorder.uninstall()
        if self.emulator is not None:
            self.emulator.stop()
            self.emulator = None
        self._clients.clear()
        mantle = sys.modules.get("claude_magic.bedrock.mantle")  # imported only on that route
        if mantle is not None:
            mantle.close_all()


WARM_UP_MODULES = (
    "claude_magic.models.catalog",
    "ipywidgets",
    "markdown_it_pyrs",
    "nh3",
    "claude_magic.notebook.view",
    "anywidget",
    "claude_magic.notebook.delta_view",
    "claude_magic.notebook.live_widget",
    "claude_magic.notebook.cell",
)  # the cell pipeline (not boto3: a first call pays for it)


def warm_up() -> None:
    """Import what the first `%%claude` needs, off the main thread, so loading the
    extension stays instant and the first answer starts sooner. Failures are left
    for the first cell to report."""
    for name in WARM_UP_MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # the cell that needs it will say what is wrong
            return


def _count_is_next() -> bool:
    """IPython >= 9.8 increments `execution_count` before running a cell."""
    import IPython

    major, minor = (int(p) for p in IPython.version_info[:2])
    return (major, minor) >= (9, 8)
