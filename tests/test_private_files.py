"""`%claude save` and `%claude export` in a real IPython shell: the files hold prompts and
answers, so they are readable by their owner only whatever the umask, and replaced whole
(a failed write leaves the previous file as it was)."""

from __future__ import annotations

import json
import os
import resource
import signal
import stat

import nbformat
import pytest


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize(("command", "name"), [("save", "chats.json"), ("export", "chat.ipynb")])
def test_saved_files_are_private_and_replaced_whole(shell, tmp_path, umask_022, command, name):
    shell.ask("", "a private question")
    path = tmp_path / name
    path.write_text("an older file")
    os.chmod(path, 0o644)
    before = os.stat(path).st_ino
    run = shell.run(f"%claude {command} {path}")
    assert run.success, run.stderr
    assert _mode(path) == 0o600 and os.stat(path).st_ino != before  # a new file renamed over it
    assert "a private question" in path.read_text()
    if command == "export":
        nbformat.validate(nbformat.read(path, as_version=4))
    else:
        assert json.loads(path.read_text())["format"] == "claude-magic-chats"
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no temporary file left


def test_a_save_that_fails_halfway_leaves_the_previous_file(shell, tmp_path, monkeypatch):
    path = tmp_path / "chats.json"
    shell.ask("", "first")
    assert shell.run(f"%claude save {path}").success
    saved = path.read_bytes()
    shell.ask("", "long " * 20_000)
    # IPython keeps its history in a file too: no history write while writes are limited
    monkeypatch.setattr(shell.ip.history_manager, "db_cache_size", 10**6)
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG)
    resource.setrlimit(resource.RLIMIT_FSIZE, (len(saved) + 4096, limits[1]))
    try:
        run = shell.run(f"%claude save {path}")
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
        signal.signal(signal.SIGXFSZ, handler)
    said = [line for line in (run.stdout + run.stderr).splitlines() if line.strip()]
    assert len(said) == 1 and f"Can't write {path}" in said[0], said
    assert path.read_bytes() == saved
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chats.json"]


@pytest.mark.parametrize("command", ["save", "export"])
def test_a_missing_folder_is_one_line(shell, tmp_path, command):
    path = tmp_path / "missing" / "chat.ipynb"
    shell.ask("", "hello")
    run = shell.run(f"%claude {command} {path}")
    said = [line for line in (run.stdout + run.stderr).splitlines() if line.strip()]
    assert len(said) == 1 and f"Can't write {path}: No such file or directory" in said[0], said
