"""`%%claude` in a real InteractiveShell, talking to the emulator through real boto3."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from magic_helpers import Shell, last_body

PROFILE_NEWEST_SONNET = "us.anthropic.claude-sonnet-5-5"  # the default model on the pinned date


def test_load_registers_and_unload_leaves_nothing(aws_env):
    sh = Shell(load=False)
    ip = sh.ip
    before_events = {name: list(cbs) for name, cbs in ip.events.callbacks.items()}
    before_publish = ip.display_pub.publish
    sh.run("%load_ext claude_magic")
    assert "claude" in ip.magics_manager.magics["cell"]
    assert "claude" in ip.magics_manager.magics["line"]
    sh.run("%unload_ext claude_magic")
    assert "claude" not in ip.magics_manager.magics["cell"]
    assert "claude" not in ip.magics_manager.magics["line"]
    assert {name: list(cbs) for name, cbs in ip.events.callbacks.items()} == before_events
    assert ip.display_pub.publish == before_publish
    assert not any(type(c).__name__ == "ClaudeMagic" for c in ip.configurables)
    sh.run("%reload_ext claude_magic")
    assert "claude" in ip.magics_manager.magics["cell"]
    sh.close()


def test_loading_is_lazy():
    """Loading the extension must not import boto3, PIL or ipywidgets."""
    code = (
        "import sys; from IPython.core.interactiveshell import InteractiveShell;"
        "ip = InteractiveShell.instance(); ip.run_line_magic('load_ext', 'claude_magic');"
        "heavy = [m for m in ('boto3', 'botocore', 'PIL', 'ipywidgets', 'markdown_it', 'nh3', 'numpy')"
        " if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_ask_streams_and_answers(shell, emulator):
    run = shell.ask("", "Hello there")
    assert run.success, run.stderr
    assert "Offline emulator" in run.stdout or "offline" in run.stdout.lower()
    request = emulator.requests()[-1]
    assert request["operation"] == "InvokeModelWithResponseStream"
    assert request["model_id"] == PROFILE_NEWEST_SONNET
    assert request["body"]["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Hello there"}]}
    ]


def test_every_option_reaches_the_body(shell, emulator):
    run = shell.ask(
        '-m haiku-4.5 -s "Be brief." --max-tokens 321 -t 0.25 --top-p 0.9 --top-k 40 '
        '--stop STOP1 --stop "END HERE" --beta token-efficient-tools-2025-02-19',
        "Tell me something",
    )
    request = emulator.requests()[-1]
    body = request["body"]
    assert request["model_id"] == "us.anthropic.claude-haiku-4-5-20251001-v1:0"
    assert body["system"] == "Be brief."
    assert body["max_tokens"] == 321
    assert body["temperature"] == 0.25
    assert body["top_p"] == 0.9
    assert body["top_k"] == 40
    assert body["stop_sequences"] == ["STOP1", "END HERE"]
    assert body["anthropic_beta"] == ["token-efficient-tools-2025-02-19"]
    assert body["anthropic_version"] == "bedrock-2023-05-31"
    del run


def test_no_stream_uses_invoke_model(shell, emulator):
    run = shell.ask("--no-stream", "Non streaming please")
    assert run.success, run.stderr
    assert emulator.requests()[-1]["operation"] == "InvokeModel"


def test_prefill_is_sent_and_continued(shell, emulator):
    run = shell.ask(
        '-m haiku-4.5 --prefill "Here is JSON: {" -o answer', "Describe yourself in JSON"
    )
    assert run.success, run.stderr
    body = last_body(emulator)
    assert body["messages"][-1] == {"role": "assistant", "content": "Here is JSON: {"}
    assert shell.ip.user_ns["answer"].startswith("Here is JSON: {")
    # the next turn sends the whole assistant turn, prefill included
    shell.ask("-m haiku-4.5", "And again")
    history = last_body(emulator)["messages"]
    assert history[1]["role"] == "assistant"
    assert history[1]["content"][0]["text"].startswith("Here is JSON: {")


def test_out_stores_reply_text(shell, emulator):
    emulator.script({"content": [{"type": "text", "text": "forty-two"}], "stop_reason": "end_turn"})
    run = shell.ask("-o reply", "What is the answer?")
    assert run.success, run.stderr
    assert shell.ip.user_ns["reply"] == "forty-two"


def test_code_puts_code_blocks_in_next_cell(shell, emulator):
    text = (
        "Try this:\n\n```python\nprint('hi')\n```\n\nand\n\n```\nx = 1\n```\n\n```bash\nls\n```\n"
    )
    emulator.script({"content": [{"type": "text", "text": text}], "stop_reason": "end_turn"})
    run = shell.ask("--code", "Write code")
    assert run.success, run.stderr
    assert shell.ip.rl_next_input == "print('hi')\n\nx = 1"


def test_name_substitution_is_identifier_only(shell, emulator):
    shell.run("city = 'Lisbon'\nsecret = 'unused'")
    shell.ask("", "Weather in {city}? Code: {'a': 1} {{city}} {unknown} {city.upper()}")
    text = last_body(emulator)["messages"][-1]["content"][-1]["text"]
    assert text == "Weather in Lisbon? Code: {'a': 1} {{city}} {unknown} {city.upper()}"


def test_line_expansion_does_not_evaluate(shell, emulator):
    shell.run("marker = []")
    shell.ask('-s "{marker.append(1)} $marker"', "Hi")
    assert shell.ip.user_ns["marker"] == []
    assert last_body(emulator)["system"] == "{marker.append(1)} $marker"


def test_conversation_alternates_across_cells(shell, emulator):
    shell.ask("", "first question")
    shell.ask("", "second question")
    shell.ask("", "third question")
    messages = last_body(emulator)["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant"] * 2 + ["user"]
    assert [m["content"][-1]["text"] for m in messages[::2]] == [
        "first question",
        "second question",
        "third question",
    ]


def test_named_chats_and_new(shell, emulator):
    shell.ask("", "default one")
    shell.ask("--chat side", "side one")
    assert len(last_body(emulator)["messages"]) == 1
    shell.ask("--chat side", "side two")
    assert len(last_body(emulator)["messages"]) == 3
    shell.ask("", "default two")
    assert [m["content"][-1]["text"] for m in last_body(emulator)["messages"][::2]] == [
        "default one",
        "default two",
    ]
    shell.ask("--chat side --new", "side fresh")
    assert len(last_body(emulator)["messages"]) == 1
    run = shell.run("%claude chats")
    assert "default: 2 turns" in run.stdout and "side: 1 turns" in run.stdout


def test_rerun_of_a_cell_replaces_its_turn(shell, emulator):
    shell.ask("", "one", cell_id="cell-a")
    shell.ask("", "two", cell_id="cell-b")
    shell.ask("", "three", cell_id="cell-c")
    run = shell.ask("", "two, rephrased", cell_id="cell-b")
    assert run.success, run.stderr
    assert "Re-run" in run.stdout
    texts = [m["content"][-1]["text"] for m in last_body(emulator)["messages"][::2]]
    assert texts == ["one", "two, rephrased"]
    # without a cell id, each run is a new turn
    shell.ask("", "again")
    shell.ask("", "again")
    assert len(last_body(emulator)["messages"]) == 7


def test_no_history_sends_and_keeps_nothing(shell, emulator):
    shell.ask("", "remember me")
    shell.ask("--no-history", "one-off")
    assert len(last_body(emulator)["messages"]) == 1
    shell.ask("", "next")
    texts = [m["content"][-1]["text"] for m in last_body(emulator)["messages"][::2]]
    assert texts == ["remember me", "next"]


def test_config_traits_reach_the_body(shell, emulator):
    shell.run('%config ClaudeMagic.model = "opus-4.5"')
    shell.run("%config ClaudeMagic.max_tokens = 77")
    shell.run("%config ClaudeMagic.temperature = 0.5")
    shell.run("%config ClaudeMagic.top_p = 0.8")
    shell.run("%config ClaudeMagic.top_k = 5")
    shell.run('%config ClaudeMagic.system = "Configured system"')
    shell.run("%config ClaudeMagic.stream = False")
    run = shell.ask("", "Configured?")
    assert run.success, run.stderr
    request = emulator.requests()[-1]
    assert request["operation"] == "InvokeModel"
    assert request["model_id"] == "us.anthropic.claude-opus-4-5-20251101-v1:0"
    body = request["body"]
    assert (
        body["max_tokens"],
        body["temperature"],
        body["top_p"],
        body["top_k"],
        body["system"],
    ) == (77, 0.5, 0.8, 5, "Configured system")


def test_region_trait_picks_the_profile(shell, emulator):
    shell.run('%config ClaudeMagic.region = "eu-central-1"')
    shell.ask("-m sonnet-4.5", "Hallo")
    assert emulator.requests()[-1]["model_id"] == "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"
    shell.run('%config ClaudeMagic.region = "ap-northeast-1"')
    shell.ask("-m opus-4.7", "Konnichiwa")
    assert emulator.requests()[-1]["model_id"] == "jp.anthropic.claude-opus-4-7"
    shell.run('%config ClaudeMagic.geography = "global"')
    shell.ask("-m opus-4.7", "Hello world")
    assert emulator.requests()[-1]["model_id"] == "global.anthropic.claude-opus-4-7"
    shell.run('%config ClaudeMagic.geography = "au"')
    shell.ask("-m opus-4.8", "G'day")  # Opus 4.8 has no au. profile: global.
    assert emulator.requests()[-1]["model_id"] == "global.anthropic.claude-opus-4-8"


def test_endpoint_url_trait(emulator, aws_env, monkeypatch):
    monkeypatch.delenv("CLAUDE_MAGIC_ENDPOINT_URL", raising=False)
    sh = Shell()
    try:
        sh.run(f'%config ClaudeMagic.endpoint_url = "{emulator.url}"')
        run = sh.ask("", "via trait")
        assert run.success, run.stderr
        assert last_body(emulator)["messages"][-1]["content"][-1]["text"] == "via trait"
    finally:
        sh.close()


def test_profile_trait_uses_that_profiles_credentials(emulator, aws_env, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.delenv("CLAUDE_MAGIC_ENDPOINT_URL", raising=False)
    (aws_env / "credentials").write_text(
        "[team]\naws_access_key_id = AKIDTEAM\naws_secret_access_key = x\n"
    )
    sh = Shell()
    try:
        run = sh.ask("", "no creds yet")
        assert not run.success
        assert "No AWS credentials" in run.stdout + run.stderr
        assert "%claude offline" in run.stdout + run.stderr
        assert "Traceback" not in run.stdout + run.stderr
        assert emulator.requests() == []
        sh.run(f'%config ClaudeMagic.endpoint_url = "{emulator.url}"')
        sh.run('%config ClaudeMagic.profile = "team"')
        run = sh.ask("", "with profile")
        assert run.success, run.stderr
        assert "AKIDTEAM" in emulator.requests()[-1]["headers"]["Authorization"]
    finally:
        sh.close()


def test_retry_traits(shell, emulator):
    shell.run('%config ClaudeMagic.retry_mode = "standard"')
    shell.run("%config ClaudeMagic.max_attempts = 3")
    emulator.fault("throttle", times=10)
    run = shell.ask("", "throttled")
    assert not run.success
    assert len(emulator.requests()) == 3
    assert "throttling" in (run.stdout + run.stderr).lower()
    assert "Traceback" not in run.stdout + run.stderr


def test_read_timeout_trait(shell, emulator):
    shell.run("%config ClaudeMagic.read_timeout = 1.0")
    emulator.fault("stall", after_events=0, seconds=4)
    run = shell.ask("--no-stream", "slow")
    assert not run.success
    assert "read_timeout" in run.stdout + run.stderr
    assert "Traceback" not in run.stdout + run.stderr


def test_offline_trait_uses_the_built_in_emulator(aws_env, monkeypatch):
    monkeypatch.delenv("CLAUDE_MAGIC_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    sh = Shell()
    try:
        sh.run("%config ClaudeMagic.offline = True")
        run = sh.ask("", "offline hello")
        assert run.success, run.stderr
        emulator = sh.magic.session.emulator
        assert emulator is not None
        assert last_body(emulator)["messages"][-1]["content"][-1]["text"] == "offline hello"
        assert "emulator" in run.stdout.lower()
    finally:
        sh.close()


def test_offline_env_and_command(aws_env, monkeypatch):
    monkeypatch.delenv("CLAUDE_MAGIC_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("CLAUDE_MAGIC_OFFLINE", "1")
    sh = Shell()
    try:
        assert sh.ask("", "env offline").success
    finally:
        sh.close()
    monkeypatch.delenv("CLAUDE_MAGIC_OFFLINE")
    sh = Shell()
    try:
        run = sh.run("%claude offline")
        assert "built-in Bedrock emulator" in run.stdout
        assert sh.ask("", "command offline").success
    finally:
        sh.close()


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        ("--temperature 3", "--temperature must be between 0 and 1"),
        ("--max-tokens lots", "invalid int value"),
        ("--no-such-option", "unrecognized arguments"),
        ("-m gpt-4", "Unknown model 'gpt-4'"),
        ("-m claude-sonnet-9", "Did you mean sonnet-5, sonnet, sonnet-5.5?"),
        ("--tool-choice any", "--tool-choice needs tools"),
    ],
)
def test_bad_options_give_one_line(shell, emulator, options, needle):
    run = shell.ask(options, "hi")
    text = run.stdout + run.stderr
    assert not run.success
    assert needle in text
    assert "Traceback" not in text
    assert emulator.requests() == []


def test_errors_are_one_line_and_keep_the_conversation(shell, emulator):
    shell.ask("", "kept turn")
    cases = [
        (
            "-m anthropic.claude-sonnet-4-5-20250929-v1:0",
            None,
            "use -m us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        ),
        (
            "-m anthropic.claude-3-7-sonnet-20250219-v1:0",
            None,
            "Claude 3.7 Sonnet was retired on Bedrock on 2026-04-28; use -m sonnet",
        ),
        ("-m anthropic.claude-9-nonexistent-v1:0", None, "%claude models"),
        ("", ("unavailable", 5), "unavailable"),
        ("", ("internal", 5), "Bedrock"),
        ("", ("access_denied", 1), "enable model access in the Bedrock console"),
        ("-m claude-2.1 --image _", None, "retired on Bedrock"),
    ]
    for options, fault, needle in cases:
        if fault:
            emulator.fault(fault[0], times=fault[1])
        run = shell.ask(options, "failing")
        emulator.clear_faults()
        text = run.stdout + run.stderr
        assert not run.success, options
        assert needle.lower() in text.lower(), (options, text)
        assert "Traceback" not in text
    shell.ask("", "after the errors")
    texts = [m["content"][-1]["text"] for m in last_body(emulator)["messages"][::2]]
    assert texts == ["kept turn", "after the errors"]


def test_an_error_the_answer_shows_is_said_once(shell, emulator):
    emulator.fault("throttle", times=5)
    run = shell.ask("", "throttled")
    assert not run.success and isinstance(run.error, Exception)
    message = str(run.error)
    assert "throttl" in message.lower()
    assert (run.stdout + run.stderr).count(message) == 1  # in the answer's view, and no more
    before = shell.ask("-m no-such-model", "hi")  # no view yet: the one line is the error itself
    assert (
        not before.success
        and (before.stdout + before.stderr).count("Unknown model 'no-such-model'") == 1
    )


def test_validation_error_shows_bedrocks_message(shell, emulator):
    run = shell.ask("-m haiku-4.5 --max-tokens 100000", "more than the model can write")
    text = run.stdout + run.stderr
    assert not run.success
    assert "Bedrock rejected the request" in text
    assert "Traceback" not in text
    assert len(emulator.requests()) == 1


def test_mid_stream_error_keeps_partial_answer(shell, emulator):
    emulator.script(
        {"content": [{"type": "text", "text": "partial words " * 40}], "stop_reason": "end_turn"}
    )
    emulator.fault("stream_exception", after_events=8, exception="modelStreamErrorException")
    run = shell.ask("", "break please")
    text = run.stdout + run.stderr
    assert not run.success
    assert "partial" in text.lower()
    assert "Traceback" not in text
    conversation = shell.magic.session.chats.get("default")
    assert len(conversation.turns) == 1 and conversation.turns[0].interrupted
    assert conversation.turns[0].answer_text.startswith("partial words")
    assert shell.ask("", "next one").success
    messages = last_body(emulator)["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]


def test_history_usage_config_models(shell, emulator):
    shell.ask("", "count my tokens")
    history = shell.run("%claude history").stdout
    assert "count my tokens" in history and "input" in history
    usage = shell.run("%claude usage").stdout
    assert "default" in usage and "$" in usage
    config = shell.run("%claude config").stdout
    assert "ClaudeMagic.model" in config and "s3cr3t-never-shown" not in config
    models = shell.run("%claude models").stdout
    for model_id in ("sonnet-5-5", "opus-4-6-v1", "sonnet-4-5-20250929-v1:0"):
        assert f" {model_id} " in models
    assert " instant-v1 " not in models and "--all" in models
    everything = shell.run("%claude models --all").stdout
    assert " instant-v1 " in everything and "retired 2026-07-30" in everything
    bad = shell.run("%claude frobnicate")
    assert not bad.success and "Unknown command" in bad.stdout + bad.stderr


def test_undo_and_reset(shell, emulator):
    shell.ask("", "a")
    shell.ask("", "b")
    shell.run("%claude undo")
    shell.ask("", "c")
    assert [m["content"][-1]["text"] for m in last_body(emulator)["messages"][::2]] == ["a", "c"]
    shell.run("%claude reset")
    shell.ask("", "d")
    assert len(last_body(emulator)["messages"]) == 1


def test_save_load_export_round_trip(shell, emulator, tmp_path):
    shell.ask("", "save me")
    shell.ask("--chat other", "me too")
    path = tmp_path / "chats.json"
    assert shell.run(f"%claude save {path}").success
    data = json.loads(path.read_text())
    assert data["format"] == "claude-magic-chats"
    shell.run("%claude reset --all")
    run = shell.run(f"%claude load {path}")
    assert run.success, run.stderr
    shell.ask("", "after load")
    texts = [m["content"][-1]["text"] for m in last_body(emulator)["messages"][::2]]
    assert texts == ["save me", "after load"]
    notebook = tmp_path / "chat.ipynb"
    assert shell.run(f"%claude export {notebook}").success
    nb = nbformat.read(notebook, as_version=4)
    nbformat.validate(nb)
    assert "save me" in json.dumps(nb)
    missing = shell.run(f"%claude load {tmp_path / 'nope.json'}")
    assert not missing.success and "No such file" in missing.stdout + missing.stderr


@pytest.mark.parametrize(("value", "expected"), [("123", 123.0), ("fast", None), ("0", None)])
def test_offline_pace_from_the_environment(aws_env, monkeypatch, value, expected):
    monkeypatch.setenv("CLAUDE_MAGIC_OFFLINE", "1")
    monkeypatch.setenv("CLAUDE_MAGIC_OFFLINE_PACE", value)
    sh = Shell()
    try:
        assert sh.magic.offline_pace == expected
        assert sh.ask("", "paced?").success
        assert sh.magic.session.emulator.pace == expected
    finally:
        sh.close()


def test_a_file_saved_by_release_0_1_loads_and_continues(shell, emulator):
    """`%claude save` files written before the package was split into layers still load."""
    fixture = Path(__file__).parent / "fixtures" / "chats-saved-0.1.json"
    run = shell.run(f"%claude load {fixture}")
    assert run.success, run.stderr
    assert shell.magic.session.chats.names() == ["default", "review"]
    history = shell.run("%claude history")
    assert "What is 2 + 2?" in history.stdout and "And doubled?" in history.stdout
    shell.ask("", "And tripled?")
    sent = [m["content"][0]["text"] for m in last_body(emulator)["messages"] if m["role"] == "user"]
    assert sent == ["What is 2 + 2?", "And doubled?", "And tripled?"]
    shell.ask("--chat review -m haiku", "Anything else?")
    review = last_body(emulator)["messages"]
    assert review[0]["content"][0]["text"] == "Review: def f(x): return x*2"
    assert len(review) == 3
