"""Shared fixtures: one emulator per test session, reset before each test, and a real
boto3 bedrock-runtime client pointed at it."""

from __future__ import annotations

import pytest

from claude_magic.emulator import Emulator


@pytest.fixture(scope="session")
def _session_emulator():
    with Emulator(pace=None) as emu:
        yield emu


@pytest.fixture
def emulator(_session_emulator):
    """The running emulator, with no recorded requests, scripts or faults left over."""
    _session_emulator.reset()
    yield _session_emulator
    _session_emulator.reset()


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
