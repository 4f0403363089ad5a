"""The answer cache of `claude_magic.map` on real SQLite files: an answer is reused only
from where it came (endpoint, region, API, offline emulator), a damaged file or row costs
one line and a resend, never the run, and the cache is readable by its owner only."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat

import pytest
from helpers import HAIKU
from magic_helpers import Shell

import claude_magic
from claude_magic.bedrock.cache import FILE_NAME
from claude_magic.emulator import Emulator

ITEMS = ["alpha", "beta", "gamma"]


@pytest.fixture
def env(emulator, aws_env, monkeypatch):
    monkeypatch.delenv("CLAUDE_MAGIC_CACHE_DIR", raising=False)
    monkeypatch.setenv("CLAUDE_MAGIC_ENDPOINT_URL", emulator.url)
    return emulator


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _map(folder, items=ITEMS, **options):
    return claude_magic.map(
        items, "Say {item}", model=HAIKU, max_tokens=20, progress=False, cache_dir=folder, **options
    )


def _sent(emulator):
    return sorted(r["body"]["messages"][0]["content"][0]["text"] for r in emulator.requests())


def _notices(capsys):
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    return [line for line in (captured.out + captured.err).splitlines() if line.strip()]


def _answered_copy(folder, source, items=ITEMS):
    """`folder/replies.sqlite3`: a copy of the cache in `source` after a map answered `items`."""
    _map(source, items)
    folder.mkdir(exist_ok=True)
    original, copy = sqlite3.connect(source / FILE_NAME), sqlite3.connect(folder / FILE_NAME)
    original.backup(copy)
    copy.close()
    original.close()
    return folder / FILE_NAME


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


# ---------------------------------------------------------------- where an answer came from


def test_offline_answers_are_not_reused_against_an_endpoint(env, monkeypatch, tmp_path):
    monkeypatch.delenv("CLAUDE_MAGIC_ENDPOINT_URL")
    monkeypatch.setenv("CLAUDE_MAGIC_OFFLINE", "1")
    offline = _map(tmp_path)
    assert offline.failed == 0 and not any(r.cached for r in offline)
    assert all(r.cached for r in _map(tmp_path))  # offline again: the emulator's answers serve
    assert env.requests() == []
    monkeypatch.delenv("CLAUDE_MAGIC_OFFLINE")
    monkeypatch.setenv("CLAUDE_MAGIC_ENDPOINT_URL", env.url)
    online = _map(tmp_path)
    assert not any(r.cached for r in online) and _sent(env) == [f"Say {i}" for i in ITEMS]
    env.clear_requests()
    assert all(r.cached for r in _map(tmp_path)) and env.requests() == []


def test_the_built_in_emulator_answers_again_in_another_kernel(aws_env, monkeypatch, tmp_path):
    """The built-in emulator is one source whatever port it listens on."""
    monkeypatch.delenv("CLAUDE_MAGIC_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("CLAUDE_MAGIC_OFFLINE", "1")
    assert not any(r.cached for r in _map(tmp_path))
    shell = Shell()  # the magic loaded: its own emulator, on another port
    try:
        assert all(r.cached for r in _map(tmp_path))
    finally:
        shell.close()


def test_another_endpoint_sends_again(env, monkeypatch, tmp_path):
    assert not any(r.cached for r in _map(tmp_path))
    with Emulator(pace=None) as other:
        assert other.url != env.url
        monkeypatch.setenv("CLAUDE_MAGIC_ENDPOINT_URL", other.url)
        again = _map(tmp_path)
        assert not any(r.cached for r in again) and _sent(other) == [f"Say {i}" for i in ITEMS]
    monkeypatch.setenv("CLAUDE_MAGIC_ENDPOINT_URL", env.url)
    env.clear_requests()
    assert all(r.cached for r in _map(tmp_path)) and env.requests() == []


def test_the_offline_flag_and_the_region_are_part_of_the_key(env, monkeypatch, tmp_path):
    _map(tmp_path)
    env.clear_requests()
    monkeypatch.setenv("CLAUDE_MAGIC_OFFLINE", "1")  # the same endpoint, with dummy keys
    assert not any(r.cached for r in _map(tmp_path)) and len(env.requests()) == 3
    monkeypatch.delenv("CLAUDE_MAGIC_OFFLINE")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    env.clear_requests()
    assert not any(r.cached for r in _map(tmp_path)) and len(env.requests()) == 3


def test_a_file_from_before_sources_were_keyed_opens_its_rows_asked_again(env, tmp_path, capsys):
    _map(tmp_path / "scratch", cache=False)
    bodies = [r["body"] for r in env.requests()]
    env.clear_requests()
    old = sqlite3.connect(tmp_path / FILE_NAME)
    old.executescript("""
        CREATE TABLE replies (key TEXT PRIMARY KEY, model TEXT NOT NULL, message TEXT NOT NULL,
                              created REAL NOT NULL);
        CREATE TABLE batch_jobs (key TEXT PRIMARY KEY, job_arn TEXT NOT NULL, model TEXT NOT NULL,
            s3_uri TEXT NOT NULL, records TEXT NOT NULL, status TEXT, created REAL NOT NULL,
            collected INTEGER DEFAULT 0);""")
    for body in bodies:
        payload = json.dumps(
            {"model": HAIKU, "body": body},
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        message = {"role": "assistant", "content": [{"type": "text", "text": "from an old run"}]}
        old.execute(
            "INSERT INTO replies VALUES (?, ?, ?, 0)",
            (hashlib.sha256(payload.encode()).hexdigest(), HAIKU, json.dumps(message)),
        )
    old.commit()
    old.close()
    again = _map(tmp_path)
    assert not any(r.cached or "old run" in r.text for r in again) and len(env.requests()) == 3
    assert _notices(capsys) == []


# ---------------------------------------------------------------- damaged files and rows


def _truncated(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _not_a_database(path):
    path.write_bytes(b"these are my notes, not a database\n" * 50)


def _foreign(path):
    path.unlink()
    with sqlite3.connect(path) as other:
        other.execute("CREATE TABLE replies (id INTEGER PRIMARY KEY, said TEXT)")
        other.execute("INSERT INTO replies (said) VALUES ('hello')")
    other.close()


@pytest.mark.parametrize("damage", [_truncated, _not_a_database, _foreign])
def test_an_unreadable_file_is_set_aside_and_the_run_goes_on(env, tmp_path, capsys, damage):
    path = _answered_copy(tmp_path / "cache", tmp_path / "scratch")
    damage(path)
    damaged = path.read_bytes()
    env.clear_requests()
    _notices(capsys)
    result = _map(tmp_path / "cache")
    assert result.failed == 0 and _sent(env) == [f"Say {i}" for i in ITEMS]
    (notice,) = _notices(capsys)
    (aside,) = (tmp_path / "cache").glob(f"{FILE_NAME}.damaged-*")
    assert str(path) in notice and str(aside) in notice
    assert aside.read_bytes() == damaged  # kept, not deleted
    env.clear_requests()
    assert all(r.cached for r in _map(tmp_path / "cache")) and env.requests() == []
    assert _notices(capsys) == []


@pytest.mark.parametrize(
    "message",
    [
        "{not json",
        "[1, 2]",
        "42",
        '{"content": 5}',
        '{"content": [1]}',
        '{"content": [{"type": "text", "text": 7}]}',
        '{"content": [], "usage": {"input_tokens": "x"}}',
        b"\x00\xff",
    ],
)
def test_a_bad_row_is_dropped_and_asked_again(env, tmp_path, capsys, message):
    path = _answered_copy(tmp_path / "cache", tmp_path / "scratch")
    with sqlite3.connect(path) as db:
        db.execute(
            "UPDATE replies SET message = ? WHERE rowid = (SELECT MIN(rowid) FROM replies)",
            (message,),
        )
    db.close()
    env.clear_requests()
    _notices(capsys)
    result = _map(tmp_path / "cache")
    assert result.failed == 0 and len(env.requests()) == 1 and sum(r.cached for r in result) == 2
    (notice,) = _notices(capsys)
    assert str(path) in notice and "asked again" in notice
    env.clear_requests()
    assert all(r.cached for r in _map(tmp_path / "cache")) and env.requests() == []
    assert _notices(capsys) == []


def test_a_bad_batch_job_row_is_dropped(env, tmp_path, capsys):
    path = _answered_copy(tmp_path / "cache", tmp_path / "scratch")
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO batch_jobs VALUES ('k', 'arn', 'm', 's3://b/p', '{oops', NULL, 0, 0)"
        )
    db.close()
    _notices(capsys)
    assert claude_magic.batch_jobs(cache_dir=tmp_path / "cache") == []
    (notice,) = _notices(capsys)
    assert str(path) in notice
    assert claude_magic.batch_jobs(cache_dir=tmp_path / "cache") == [] and _notices(capsys) == []


def test_a_cache_folder_that_is_a_file_leaves_answers_uncached(env, tmp_path, capsys):
    folder = tmp_path / "cache"
    folder.write_text("mine")
    result = _map(folder)
    assert result.failed == 0 and len(env.requests()) == 3
    (notice,) = _notices(capsys)
    assert str(folder) in notice and "cache_dir" in notice
    assert folder.read_text() == "mine"


# ---------------------------------------------------------------- who may read it


def test_the_cache_is_readable_by_its_owner_only(env, tmp_path, umask_022):
    folder = tmp_path / "new" / "cache"
    _map(folder)
    assert _mode(folder) == 0o700
    files = [p for p in folder.iterdir() if p.name.startswith(FILE_NAME)]
    assert folder / FILE_NAME in files
    assert {p.name: _mode(p) for p in files} == {p.name: 0o600 for p in files}


def test_an_existing_cache_file_is_made_private(env, tmp_path, umask_022):
    path = _answered_copy(tmp_path / "cache", tmp_path / "scratch")
    os.chmod(path, 0o644)
    _map(tmp_path / "cache", ITEMS + ["delta"])
    files = [p for p in (tmp_path / "cache").iterdir() if p.name.startswith(FILE_NAME)]
    assert {p.name: _mode(p) for p in files} == {p.name: 0o600 for p in files}


def test_the_default_folder_an_older_version_made_0755_is_made_private(
    env, tmp_path, monkeypatch, umask_022
):
    monkeypatch.delenv("CLAUDE_MAGIC_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    folder = tmp_path / "xdg" / "claude-magic"
    folder.mkdir(parents=True, mode=0o755)
    _map(None)
    assert _mode(folder) == 0o700
    chosen = tmp_path / "shared"
    chosen.mkdir(mode=0o755)
    _map(chosen)
    assert _mode(chosen) == 0o755  # a folder the user named stays as they made it
