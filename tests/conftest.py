"""Shared fixtures: one emulator per test session, reset before each test, a real boto3
bedrock-runtime client pointed at it, and real Jupyter kernels. Tests are marked by the
fixtures they use (see MARKED_BY_FIXTURE), so `-m "not kernel and not browser and not s3"`
selects the quick ones."""

from __future__ import annotations

import os

import kernel_helpers
import pytest

from claude_magic.emulator import Emulator

# Lifecycles (retired models, which model an alias names) are judged by this date in the
# client, the emulator and the kernels tests start, never by the real calendar.
TODAY = "2026-12-01"
os.environ["CLAUDE_MAGIC_TODAY"] = TODAY

# Each marker, and the fixtures that make a test need it: starting a real Jupyter kernel or
# running notebooks (kernel; binder_install builds the environment binder's notebooks run in,
# wheel_env one from the built wheel),
# driving JupyterLab in Chromium (browser), moto's S3 server (s3).
MARKED_BY_FIXTURE = {
    "kernel": {"new_kernel", "run_notebook", "binder_install", "demo_first_run", "wheel_env"},
    "browser": {"browser", "lab", "lab_without_anywidget"},
    "s3": {"s3_server"},
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        for marker, fixtures in MARKED_BY_FIXTURE.items():
            if used & fixtures:
                item.add_marker(marker)


@pytest.fixture(scope="session")
def new_kernel():
    """Starts a fresh python3 kernel: `with new_kernel() as client:` gives a ready client
    (its manager as `client.manager`), shut down afterwards. The kernel inherits the
    environment of the moment it starts."""
    return kernel_helpers.running_kernel


@pytest.fixture(scope="session")
def run_notebook():
    """`run_notebook(notebook, cwd)` executes every cell in a fresh python3 kernel."""
    return kernel_helpers.run_notebook


@pytest.fixture(scope="session")
def _session_emulator():
    with Emulator(pace=None) as emu:
        yield emu


@pytest.fixture
def emulator(_session_emulator):
    """The running emulator, with no recorded requests, scripts, faults, added models or
    moved date left over."""
    _session_emulator.reset()
    yield _session_emulator
    _session_emulator.reset()
    _session_emulator.today = None
    _session_emulator.clear_models()


@pytest.fixture
def bedrock_client(emulator):
    """A real boto3 bedrock-runtime client pointed at the emulator (no retries)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=emulator.url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )


@pytest.fixture
def aws_env(monkeypatch, tmp_path):
    """Dummy AWS keys and an isolated AWS config, as a user with keys would have."""
    for name in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SESSION_TOKEN",
        "CLAUDE_MAGIC_OFFLINE",
        "CLAUDE_MAGIC_ENDPOINT_URL",
        "AWS_BEARER_TOKEN_BEDROCK",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s3cr3t-never-shown")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    return tmp_path


@pytest.fixture
def magic_env(emulator, aws_env, monkeypatch):
    """The magic (in this process and in kernels it starts) talks to the emulator."""
    monkeypatch.setenv("CLAUDE_MAGIC_ENDPOINT_URL", emulator.url)
    return emulator


@pytest.fixture
def shell(magic_env, monkeypatch, tmp_path):
    """A real IPython shell with claude_magic loaded, talking to the emulator, one attempt
    per request, working in a scratch folder."""
    from magic_helpers import Shell

    monkeypatch.chdir(tmp_path)
    sh = Shell()
    sh.run("%config ClaudeMagic.max_attempts = 1")
    yield sh
    sh.close()
