"""A real ipykernel driven over ZMQ, with every IOPub message of a cell timed and sized.

`BenchKernel` starts a kernel (jupyter_client) whose environment points claude-magic
at an emulator, and runs cells. IOPub is read from its own SUB socket with no
high-water mark (nothing is dropped however slowly the bench reads), frame by frame,
so each message's size is what went over the wire: the serialized header,
parent_header, metadata and content JSON plus any buffers (the HMAC signature and
routing frames are left out). Each message is stamped with `time.monotonic()` when
it was received; on Linux that clock is shared by every process on the machine.

    with BenchKernel(emulator.url) as kernel:
        run = kernel.run("%load_ext claude_magic")
        run.seconds, run.iopub_bytes, run.by_type()
"""

from __future__ import annotations

import collections
import os
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

KERNEL_PATH_ENV = "BENCH_KERNEL_PYTHONPATH"  # prepended to the kernels' PYTHONPATH
# Kernels byte-compile claude_magic once, into a cache outside the repository, as an
# installed package is (where PYTHONDONTWRITEBYTECODE is set, every import would
# otherwise compile the package's modules again).
PYCACHE = os.path.join(tempfile.gettempdir(), "claude-magic-bench-pycache")


def bytecode_env(env: dict[str, str]) -> dict[str, str]:
    """`env` with bytecode cached under PYCACHE."""
    env = dict(env)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = PYCACHE
    if os.environ.get(KERNEL_PATH_ENV):  # e.g. an older copy of the package, to compare
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (os.environ[KERNEL_PATH_ENV], env.get("PYTHONPATH")) if p
        )
    return env


UPDATE_TYPES = (
    "display_data",
    "update_display_data",
    "comm_msg",
    "stream",
    "execute_result",
    "clear_output",
)


@dataclass
class Received:
    """One IOPub message of a cell: when it arrived, its wire size, the message."""

    time: float
    nbytes: int
    msg: dict[str, Any]

    @property
    def msg_type(self) -> str:
        return self.msg["msg_type"]


@dataclass
class CellRun:
    """What executing one cell produced, as seen by the client."""

    code: str
    sent: float  # monotonic time the execute_request left
    idle: float  # monotonic time the cell's idle status arrived
    messages: list[Received] = field(default_factory=list)
    reply: dict[str, Any] = field(default_factory=dict)
    cpu_seconds: float = 0.0  # the kernel process's CPU time (all threads) during the cell

    @property
    def seconds(self) -> float:
        return self.idle - self.sent

    @property
    def iopub_bytes(self) -> int:
        return sum(m.nbytes for m in self.messages)

    def by_type(self) -> dict[str, dict[str, int]]:
        """Messages and bytes per message type (comm_msg split by the widget state key)."""
        table: dict[str, dict[str, int]] = collections.defaultdict(
            lambda: {"messages": 0, "bytes": 0}
        )
        for m in self.messages:
            row = table[_kind(m.msg)]
            row["messages"] += 1
            row["bytes"] += m.nbytes
        return dict(sorted(table.items(), key=lambda item: -item[1]["bytes"]))

    def text_of(self, kinds: tuple[str, ...] = UPDATE_TYPES) -> list[tuple[float, str]]:
        """(arrival time, content as text) of the messages of these types; compressed
        binary buffers (the delta view's finished blocks) are inflated and added."""
        import json

        return [
            (
                m.time,
                json.dumps(m.msg["content"], ensure_ascii=False) + _inflated(m.msg.get("buffers")),
            )
            for m in self.messages
            if m.msg_type in kinds
        ]

    def stdout(self) -> str:
        return "".join(
            m.msg["content"].get("text", "")
            for m in self.messages
            if m.msg_type == "stream" and m.msg["content"].get("name") == "stdout"
        )


def _inflated(buffers: Any) -> str:
    import zlib

    texts = []
    for buffer in buffers or ():
        try:
            texts.append(zlib.decompress(bytes(buffer)).decode("utf-8", "replace"))
        except zlib.error:
            pass
    return "".join(texts)


def _kind(msg: dict[str, Any]) -> str:
    kind = msg["msg_type"]
    if kind == "comm_msg":
        state = (msg["content"].get("data") or {}).get("state") or {}
        return "comm_msg(" + ",".join(sorted(state)) + ")" if state else "comm_msg"
    return kind


class BenchKernel:
    """A python3 ipykernel with claude-magic's emulator environment."""

    def __init__(
        self, endpoint_url: str | None = None, extra_env: dict[str, str] | None = None
    ) -> None:
        env = dict(os.environ)
        if endpoint_url:
            env["CLAUDE_MAGIC_ENDPOINT_URL"] = endpoint_url
        env.update(
            {
                "AWS_ACCESS_KEY_ID": "bench",
                "AWS_SECRET_ACCESS_KEY": "bench",
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                "PYDEVD_DISABLE_FILE_VALIDATION": "1",
            }
        )
        env.pop("CLAUDE_MAGIC_OFFLINE", None)
        # as in JupyterLab, where the page loads the delta widget (a kernel with no
        # page would otherwise fall back to the ipywidgets view after its first answer)
        env.setdefault("CLAUDE_MAGIC_LIVE_VIEW", "deltas")
        env.update(extra_env or {})
        self.env = bytecode_env(env)
        self.manager: Any = None
        self.client: Any = None
        self.iopub: Any = None

    def start(self) -> BenchKernel:
        import zmq
        from jupyter_client import KernelManager

        self.manager = KernelManager(kernel_name="python3")
        self.manager.start_kernel(env=self.env)
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=120)
        self.client.iopub_channel.stop()  # IOPub is read from our own socket, below
        socket = zmq.Context.instance().socket(zmq.SUB)
        socket.setsockopt(zmq.RCVHWM, 0)
        socket.setsockopt(zmq.SUBSCRIBE, b"")
        socket.connect(self.manager._make_url("iopub"))
        self.iopub = socket
        deadline = time.monotonic() + 30
        while True:  # a SUB socket joins late: run cells until one is seen
            try:
                self.run("pass", timeout=0.5)
                break
            except TimeoutError:
                if time.monotonic() > deadline:
                    raise
        return self

    def stop(self) -> None:
        if self.iopub is not None:
            self.iopub.close(linger=0)
            self.iopub = None
        if self.client is not None:
            self.client.stop_channels()
        if self.manager is not None:
            self.manager.shutdown_kernel(now=True)

    def __enter__(self) -> BenchKernel:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def run(self, code: str, timeout: float = 300.0, check: bool = True) -> CellRun:
        """Execute `code`; collect its IOPub messages until the kernel is idle."""
        session = self.client.session
        cpu_before = self.cpu_seconds()
        sent = time.monotonic()
        msg_id = self.client.execute(code, store_history=False)
        run = CellRun(code, sent, 0.0)
        deadline = sent + timeout
        poller = self.iopub
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not poller.poll(int(left * 1000)):
                raise TimeoutError(f"no idle status within {timeout} s for {code[:60]!r}")
            frames = poller.recv_multipart(copy=True)
            arrived = time.monotonic()
            _, parts = session.feed_identities(frames, copy=True)
            nbytes = sum(len(p) for p in parts[1:])  # header, parent, metadata, content, buffers
            msg = session.deserialize(parts, content=True, copy=True)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                run.idle = arrived
                run.cpu_seconds = self.cpu_seconds() - cpu_before
                break
            run.messages.append(Received(arrived, nbytes, msg))
        run.reply = self._reply(msg_id)
        if check and run.reply.get("status") != "ok":
            errors = [m.msg["content"] for m in run.messages if m.msg_type == "error"]
            raise RuntimeError(f"cell failed: {code[:80]!r}: {errors or run.reply}")
        return run

    def cpu_seconds(self) -> float:
        """User + system CPU time of the kernel process so far (Linux /proc, 10 ms
        ticks; 0.0 elsewhere). Unlike wall time, other work on a shared machine
        hardly moves it."""
        try:
            pid = self.manager.provisioner.process.pid
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except (AttributeError, OSError):
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def _reply(self, msg_id: str) -> dict[str, Any]:
        while True:
            reply = self.client.get_shell_msg(timeout=60)
            if reply["parent_header"].get("msg_id") == msg_id:
                return reply["content"]

    def value(self, expression: str) -> Any:
        """Evaluate a Python expression in the kernel; its value, through JSON."""
        import json

        run = self.run(f"import json as _bench_json; print(_bench_json.dumps({expression}))")
        return json.loads(run.stdout())


def run_kernel_side_send_log() -> str:
    """Code that, run in a kernel, logs every message the kernel serializes:
    (monotonic time, msg_type, parent msg_id, wire bytes, content bytes, msg_id) in
    `_bench_sent`; the content frame is kept only with `_bench_keep_content = True`."""
    return """
import time as _bench_time
_bench_sent = []
_bench_keep_content = False
def _bench_install():
    session = get_ipython().kernel.session
    original = session.serialize
    def serialize(msg, ident=None):
        frames = original(msg, ident)
        parts = frames[frames.index(b"<IDS|MSG>") + 2:]
        _bench_sent.append((_bench_time.monotonic(), msg["header"]["msg_type"],
                            (msg.get("parent_header") or {}).get("msg_id"), sum(len(p) for p in parts),
                            parts[3] if _bench_keep_content else b"", msg["header"]["msg_id"]))
        return frames
    session.serialize = serialize
_bench_install()
"""
