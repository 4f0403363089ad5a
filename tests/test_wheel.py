"""The wheel works on its own: installed into a fresh virtual environment, away from the
source tree, with none of the extras, it holds the model catalogue and the JupyterLab
extension, and a real kernel from it loads the extension and answers an offline cell.
The wheel is the one .ci/run built (CLAUDE_MAGIC_WHEEL), else one built here."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kernel_helpers import run_in_kernel

import claude_magic

ROOT = Path(__file__).resolve().parent.parent
WHEEL_ENV = "CLAUDE_MAGIC_WHEEL"
LABEXTENSION = "share/jupyter/labextensions/claude-magic"
EXTRAS_LEFT_OUT = ("jupyterlab", "mcp", "anthropic", "matplotlib")  # lab, mcp, mantle, notebooks


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    given = os.environ.get(WHEEL_ENV)
    if given:
        return Path(given).resolve()
    assert (ROOT / "claude_magic" / "labextension" / "package.json").exists(), (
        "build the JupyterLab extension first: labextension/build"
    )
    out = tmp_path_factory.mktemp("dist")
    build = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-2000:]
    return next(out.glob("*.whl"))


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment without this checkout, its venv or AWS and claude-magic settings."""
    drop = (
        "AWS_",
        "CLAUDE_MAGIC_",
        "JUPYTER",
        "IPYTHONDIR",
        "PYTHONPATH",
        "VIRTUAL_ENV",
        "PIP_REQUIRE",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    home.mkdir(parents=True, exist_ok=True)
    return {**env, "HOME": str(home), "PIP_NO_INPUT": "1", **extra}


@pytest.fixture(scope="module")
def wheel_env(wheel, tmp_path_factory) -> Path:
    """A fresh venv holding the wheel (no extras) and ipykernel, the kernel to run it in."""
    base = tmp_path_factory.mktemp("wheel-env")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    started = time.monotonic()
    install = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "-q",
            str(wheel),
            "ipykernel",
        ],
        cwd=base,
        capture_output=True,
        text=True,
        env=clean_env(base / "home"),
    )
    assert install.returncode == 0, install.stderr[-3000:]
    print(f"installed {wheel.name} and ipykernel in {time.monotonic() - started:.0f} s")
    return venv


@contextlib.contextmanager
def wheel_kernel(venv: Path, cwd: Path) -> Iterator[Any]:
    """A kernel run by the venv's Python in `cwd`, offline, with a home of its own."""
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpecManager

    specs = cwd / "kernels"
    (specs / "wheel").mkdir(parents=True)
    (specs / "wheel" / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [
                    str(venv / "bin" / "python"),
                    "-m",
                    "ipykernel_launcher",
                    "-f",
                    "{connection_file}",
                ],
                "display_name": "the wheel",
                "language": "python",
            }
        )
    )
    manager = KernelManager(
        kernel_name="wheel", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(specs)])
    )
    manager.start_kernel(
        cwd=str(cwd),
        env=clean_env(
            cwd / "home",
            CLAUDE_MAGIC_OFFLINE="1",
            CLAUDE_MAGIC_TODAY=os.environ["CLAUDE_MAGIC_TODAY"],
        ),
    )
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=120)
        yield client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def shown(messages: list[dict]) -> str:
    """Everything the messages put on the page, as one text."""
    parts = []
    for msg in messages:
        content = msg["content"]
        parts.append(content.get("text", ""))
        parts += [str(v) for v in content.get("data", {}).values()]
        parts += [content.get("evalue", "")] + content.get("traceback", [])
        if "state" in content:
            parts.append(json.dumps(content["state"]))
    return "\n".join(part for part in parts if part)


def test_the_wheel_holds_the_catalogue_the_extension_and_the_license(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    version = claude_magic.__version__
    assert wheel.name == f"claude_magic-{version}-py3-none-any.whl"
    data = f"claude_magic-{version}.data/data/{LABEXTENSION}"
    for name in (
        "claude_magic/models/catalog.toml",
        "claude_magic/py.typed",
        "claude_magic/emulator/__main__.py",
        "claude_magic/labextension/package.json",
        f"{data}/package.json",
        f"{data}/install.json",
        f"claude_magic-{version}.dist-info/licenses/LICENSE",
    ):
        assert name in names, name
    assert any(n.startswith(f"{data}/static/remoteEntry.") for n in names)
    assert not [n for n in names if n.startswith(("tests/", "docs/", "labextension/src"))]
    metadata = zipfile.ZipFile(wheel).read(f"claude_magic-{version}.dist-info/METADATA").decode()
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    always = [line for line in requires if "extra ==" not in line]
    for name in EXTRAS_LEFT_OUT:
        assert not [line for line in always if line.split()[1].startswith(name)], name
    for extra in ("lab", "mcp", "mantle", "notebooks", "all"):
        assert f"Provides-Extra: {extra}" in metadata
    assert "Classifier: Framework :: Jupyter :: JupyterLab" in metadata
    assert "License-Expression: MIT" in metadata


@pytest.mark.timeout(900)
def test_a_kernel_from_the_wheel_loads_it_and_answers_offline(wheel_env, tmp_path):
    venv = wheel_env
    assert (venv / LABEXTENSION / "package.json").exists(), "JupyterLab finds the extension there"
    with wheel_kernel(venv, tmp_path) as kc:
        _, messages = run_in_kernel(
            kc,
            "import claude_magic, importlib.util\n"
            "print(claude_magic.__file__, claude_magic.__version__)\n"
            f"print([importlib.util.find_spec(m) for m in {EXTRAS_LEFT_OUT!r}])",
        )
        where, version = shown(messages).split()[:2]
        assert Path(where).is_relative_to(venv) and version == claude_magic.__version__
        assert "[None, None, None, None]" in shown(messages), (
            "the extras stay out of a bare install"
        )

        run_in_kernel(kc, "%load_ext claude_magic")
        _, messages = run_in_kernel(kc, "%%claude\nHello from a wheel: what is a p-value?")
        answer = shown(messages)
        assert "Offline emulator" in answer and "Hello from a wheel" in answer

        _, messages = run_in_kernel(kc, "%claude models")  # the catalogue, from the wheel
        assert "sonnet" in shown(messages) and "opus" in shown(messages)

        # a part that needs an extra says which, in one line
        run_in_kernel(kc, "%claude mcp add time -- python -m claude_magic.tools.mcp.demo_server")
        reply, messages = run_in_kernel(kc, "%%claude --mcp time\nWhat time is it?", check=False)
        assert reply["status"] == "error"
        assert "pip install 'claude-magic[mcp]'" in shown(messages)
        assert "Traceback" not in shown(messages)

        run_in_kernel(kc, '%config ClaudeMagic.api = "mantle"')
        reply, messages = run_in_kernel(kc, "%%claude\nHello?", check=False)
        assert reply["status"] == "error"
        assert "pip install 'claude-magic[mantle]'" in shown(messages)
        assert "Traceback" not in shown(messages)


def test_a_missing_extra_is_named_in_one_line():
    from claude_magic.core.extras import missing_extra

    assert missing_extra("json", "mcp", "MCP servers") is None
    line = missing_extra("no_such_module_here", "mcp", "MCP servers")
    assert line == (
        "MCP servers: the no_such_module_here package is not installed here; "
        "pip install 'claude-magic[mcp]' and restart the kernel."
    )
