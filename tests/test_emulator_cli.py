"""`python -m claude_magic.emulator`: start, serve, stop on a signal; refuse remote hosts."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import urllib.request

import boto3
import pytest
from botocore.config import Config
from helpers import HAIKU

URL_LINE = re.compile(r"http://[\w.\[\]:]+:(\d+)")


def start(*args: str) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "claude_magic.emulator", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline()
    match = URL_LINE.search(line)
    if not match:
        process.kill()
        raise AssertionError(f"no URL line; got {line!r} and {process.stderr.read()!r}")
    return process, match.group(0)


def stop(process: subprocess.Popen, signum: int = signal.SIGTERM) -> int:
    process.send_signal(signum)
    try:
        return process.wait(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()


def health(url: str) -> dict:
    with urllib.request.urlopen(url + "/_emulator/health", timeout=10) as response:
        return json.loads(response.read())


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_starts_prints_url_serves_and_stops_cleanly(signum):
    process, url = start("--quiet")
    try:
        assert url.startswith("http://127.0.0.1:")
        assert health(url)["status"] == "ok"
    finally:
        code = stop(process, signum)
    assert code == 0
    with pytest.raises(OSError):
        health(url)


def test_options_reach_the_server():
    process, url = start("--pace", "250", "--credentials", "AKIDCLI:clisecret", "--port", "0")
    try:
        info = health(url)
        assert info["pace"] == 250 and info["auth"] == "sigv4"
        body = json.dumps(
            {
                "anthropic_version": "bedrock-2023-05-31",
                "max_tokens": 64,
                "messages": [{"role": "user", "content": "Hi"}],
            }
        )

        def client(secret: str):
            return boto3.client(
                "bedrock-runtime",
                region_name="us-east-1",
                endpoint_url=url,
                aws_access_key_id="AKIDCLI",
                aws_secret_access_key=secret,
                config=Config(retries={"total_max_attempts": 1}),
            )

        reply = client("clisecret").invoke_model(modelId=HAIKU, body=body)
        assert json.loads(reply["body"].read())["type"] == "message"
        with pytest.raises(client("wrong").exceptions.ClientError):
            client("wrong").invoke_model(modelId=HAIKU, body=body)
    finally:
        assert stop(process) == 0
    assert "POST /model/" in process.stderr.read()  # requests are logged unless --quiet


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10"])
def test_non_loopback_hosts_are_refused_without_allow_remote(host):
    result = subprocess.run(
        [sys.executable, "-m", "claude_magic.emulator", "--host", host],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert "--allow-remote" in line and host in line


def test_allow_remote_listens_on_all_interfaces():
    process, url = start("--host", "0.0.0.0", "--allow-remote", "--quiet")
    try:
        port = int(URL_LINE.search(url).group(1))
        assert health(f"http://127.0.0.1:{port}")["status"] == "ok"
    finally:
        assert stop(process) == 0


def test_busy_port_is_a_one_line_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "claude_magic.emulator", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1 and str(port) in result.stderr


def test_bad_pace_is_refused():
    result = subprocess.run(
        [sys.executable, "-m", "claude_magic.emulator", "--pace", "-5"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "--pace" in result.stderr


def test_today_and_models_options(tmp_path):
    models = tmp_path / "models.json"
    models.write_text(json.dumps({"id": "anthropic.claude-opus-6", "profiles": ["us", "global"]}))
    process, url = start("--quiet", "--today", "2027-01-08", "--models", str(models))
    try:
        session = dict(
            region_name="us-east-1",
            endpoint_url=url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        listed = boto3.client("bedrock", **session).list_foundation_models()["modelSummaries"]
        ids = {s["modelId"] for s in listed}
        assert (
            "anthropic.claude-opus-6" in ids
            and "anthropic.claude-opus-4-1-20250805-v1:0" not in ids
        )
        runtime = boto3.client(
            "bedrock-runtime", config=Config(retries={"total_max_attempts": 1}), **session
        )
        body = json.dumps(
            {
                "anthropic_version": "bedrock-2023-05-31",
                "max_tokens": 50,
                "messages": [{"role": "user", "content": "Hi"}],
            }
        )
        with pytest.raises(runtime.exceptions.ResourceNotFoundException):  # end of life 2027-01-08
            runtime.invoke_model(modelId="us.anthropic.claude-opus-4-1-20250805-v1:0", body=body)
        assert runtime.invoke_model(modelId="global.anthropic.claude-opus-6", body=body)
    finally:
        assert stop(process) == 0
    bad = subprocess.run(
        [sys.executable, "-m", "claude_magic.emulator", "--today", "someday"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "YYYY-MM-DD" in bad.stderr


def test_limit_options_reach_the_server():
    process, url = start(
        "--quiet",
        "--max-connections",
        "8",
        "--request-timeout",
        "2.5",
        "--log-requests",
        "50",
        "--log-bytes",
        "2MB",
        "--log-body-bytes",
        "64KB",
    )
    try:
        assert health(url)["limits"] == {
            "max_connections": 8,
            "request_timeout": 2.5,
            "log_requests": 50,
            "log_bytes": 2 * 1024 * 1024,
            "log_body_bytes": 64 * 1024,
        }
    finally:
        assert stop(process) == 0
    for option, value in [
        ("--max-connections", "0"),
        ("--log-bytes", "lots"),
        ("--request-timeout", "-1"),
    ]:
        bad = subprocess.run(
            [sys.executable, "-m", "claude_magic.emulator", option, value],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert bad.returncode == 2 and option in bad.stderr.strip().splitlines()[-1], bad.stderr
