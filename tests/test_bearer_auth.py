"""Bedrock API keys (`AWS_BEARER_TOKEN_BEDROCK`): boto3 sends them as `Authorization:
Bearer` over HTTPS; the magic uses them without access keys, says so (masked) in
`%claude config`, and explains a refused key in one line. The emulator checks the keys
it was given and serves HTTPS with a test CA."""

from __future__ import annotations

import json
import os

import boto3
import pytest
import trustme
from botocore.config import Config
from helpers import HAIKU
from kernel_helpers import run_in_kernel
from magic_helpers import Shell

from claude_magic.bedrock.settings import ClientSettings, boto_endpoint, settings_from_env
from claude_magic.emulator import Emulator

TOKEN = "ABSKQmVkcm9ja0FQSUtleS1leGFtcGxlLXRva2VuLXdxyz9"
BODY = {
    "anthropic_version": "bedrock-2023-05-31",
    "max_tokens": 20,
    "messages": [{"role": "user", "content": "Hi"}],
}


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    """A test CA (its PEM for AWS_CA_BUNDLE) and a certificate for 127.0.0.1 signed by it."""
    base = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    paths = {name: str(base / f"{name}.pem") for name in ("ca", "cert", "key")}
    ca.cert_pem.write_to_path(paths["ca"])
    cert.private_key_and_cert_chain_pem.write_to_path(paths["cert"])
    cert.private_key_pem.write_to_path(paths["key"])
    return paths


@pytest.fixture(scope="module")
def https_emulator(tls_files):
    with Emulator(bearer_tokens=[TOKEN], tls=(tls_files["cert"], tls_files["key"])) as emu:
        yield emu


@pytest.fixture
def key_only_env(monkeypatch, tmp_path, https_emulator, tls_files):
    """Only an API key and boto3's endpoint variable (plus the test CA and empty AWS files)."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "CLAUDE_MAGIC_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", TOKEN)
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", https_emulator.url)
    monkeypatch.setenv("AWS_CA_BUNDLE", tls_files["ca"])
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    https_emulator.reset()
    return https_emulator


def _printed(messages: list[dict]) -> str:
    parts = []
    for m in messages:
        content = m["content"]
        parts.append(content.get("text", ""))
        parts.append(json.dumps(content.get("data", {})))
        parts.extend(content.get("traceback", []))
    return "\n".join(parts)


def test_a_kernel_with_only_an_api_key_talks_bearer(key_only_env, new_kernel):
    emu = key_only_env
    emu.script(
        {"content": [{"type": "text", "text": "Answer via API key"}], "stop_reason": "end_turn"}
    )
    with new_kernel() as kc:
        run_in_kernel(kc, "%load_ext claude_magic")
        _, messages = run_in_kernel(kc, f"%%claude -m {HAIKU}\nHello")
        assert "Answer via API key" in _printed(messages)
        [request] = emu.requests()
        assert request["headers"]["Authorization"] == f"Bearer ****{TOKEN[-4:]}"  # redacted
        assert request["status"] == 200

        _, messages = run_in_kernel(kc, "%claude config")
        config = _printed(messages)
        assert f"# authentication: bearer token (…{TOKEN[-4:]})" in config
        assert TOKEN not in config and TOKEN[:-4] not in config
        assert f"# endpoint in use: {emu.url}" in config

        run_in_kernel(
            kc, "import os; os.environ['AWS_BEARER_TOKEN_BEDROCK'] = 'ABSKwrong-or-expired-key'"
        )
        reply, messages = run_in_kernel(kc, f"%%claude -m {HAIKU}\nAgain", check=False)
        assert reply["status"] == "error"
        errors = [m["content"] for m in messages if m["msg_type"] == "error"]
        assert len(errors) == 1 and len(errors[0]["traceback"]) == 1
        line = errors[0]["evalue"]
        assert "API key" in line and "12 hours" in line and "\n" not in line
        assert emu.requests()[-1]["headers"]["Authorization"] == "Bearer ****-key"
        assert emu.requests()[-1]["status"] == 403


def test_the_emulator_refuses_unknown_keys_with_bedrocks_message(
    https_emulator, tls_files, monkeypatch
):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", "ABSKnot-a-key-it-knows")
    client = boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=https_emulator.url,
        verify=tls_files["ca"],
        config=Config(retries={"total_max_attempts": 1}),
    )
    with pytest.raises(client.exceptions.AccessDeniedException) as info:
        client.invoke_model(modelId=HAIKU, body=json.dumps(BODY))
    assert info.value.response["Error"]["Message"] == (
        "Authentication failed: Please make sure your API Key is valid."
    )
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", TOKEN)
    client = boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=https_emulator.url,
        verify=tls_files["ca"],
    )
    assert json.loads(client.invoke_model(modelId=HAIKU, body=json.dumps(BODY))["body"].read())[
        "content"
    ]


def test_an_emulator_checking_signatures_refuses_any_api_key(monkeypatch, tls_files):
    from claude_magic.emulator.errors import BedrockError
    from claude_magic.emulator.wire.sigv4 import check_request

    headers = [("Authorization", f"Bearer {TOKEN}")]
    check_request(
        "POST", "/model/x/invoke", "", headers, b"{}", None
    )  # nothing configured: presence
    with pytest.raises(BedrockError) as info:
        check_request("POST", "/model/x/invoke", "", headers, b"{}", {"AKID": "secret"})
    assert info.value.status == 403 and "API Key" in info.value.message
    with pytest.raises(BedrockError) as info:
        check_request("POST", "/model/x/invoke", "", [("Authorization", "Bearer  ")], b"{}", None)
    assert info.value.code == "MissingAuthenticationTokenException"
    check_request(
        "POST",
        "/model/x/invoke",
        "",
        headers,
        b"{}",
        {"AKID": "s"},
        bearer_tokens=frozenset([TOKEN]),
    )


def test_config_names_the_auth_in_use_masked(magic_env, monkeypatch):
    shell = Shell()
    try:
        keys_only = shell.run("%claude config").stdout
        assert "# authentication: access key id (…MPLE) from env" in keys_only
        assert "s3cr3t" not in keys_only and "AKIDEXAMPLE" not in keys_only
        monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", TOKEN)
        both = shell.run("%claude config").stdout
        assert f"bearer token (…{TOKEN[-4:]}) from AWS_BEARER_TOKEN_BEDROCK" in both
        assert "boto3 uses the API key" in both and TOKEN not in both and "AKIDEXAMPLE" not in both
        monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", "short")
        assert "bearer token (…) from" in shell.run("%claude config").stdout
    finally:
        shell.close()


def test_an_api_key_and_a_plain_http_endpoint_is_one_line(magic_env, monkeypatch):
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", TOKEN)
    shell = Shell()
    try:
        run = shell.ask(f"-m {HAIKU}", "Hi")
        assert not run.success
        assert "only over HTTPS" in str(run.error) and magic_env.url in str(run.error)
        assert not magic_env.requests()
    finally:
        shell.close()


def test_offline_mode_never_sends_the_api_key(aws_env, monkeypatch):
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", TOKEN)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    shell = Shell()
    try:
        shell.run("%claude offline")
        run = shell.ask(f"-m {HAIKU}", "Hi")
        assert run.success, run.error
        [request] = shell.magic.session.start_emulator(None).requests()
        assert request["headers"]["Authorization"].startswith("AWS4-HMAC-SHA256 ")
        assert TOKEN not in json.dumps(request["headers"])
    finally:
        shell.close()


def test_boto3_endpoint_variables_count_like_claude_magics():
    env = {
        "AWS_ENDPOINT_URL": "https://all.example",
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": "https://br.example",
    }
    assert boto_endpoint(env) == "https://br.example"
    assert boto_endpoint({"AWS_ENDPOINT_URL": "https://all.example"}) == "https://all.example"
    assert boto_endpoint({**env, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}) is None
    assert settings_from_env(ClientSettings(), env).endpoint_url == "https://br.example"
    assert (
        settings_from_env(ClientSettings(endpoint_url="https://mine"), env).endpoint_url
        == "https://mine"
    )
    ours = {**env, "CLAUDE_MAGIC_ENDPOINT_URL": "http://127.0.0.1:1"}
    assert (
        settings_from_env(ClientSettings(endpoint_url="https://mine"), ours).endpoint_url
        == "http://127.0.0.1:1"
    )


def test_the_emulator_cli_takes_keys_and_a_certificate_pair(capsys):
    from claude_magic.emulator.__main__ import main

    assert main(["--tls-cert", "cert.pem"]) == 2
    assert "go together" in capsys.readouterr().err
    assert main(["--bearer-token", " spaced ", "--port", "0"]) == 2
    assert "bearer tokens" in capsys.readouterr().err
    with Emulator(bearer_tokens="ABSKone") as emu:
        assert emu.url.startswith("http://") and emu._state.health()["api_keys"] == "checked"
