"""binder/: installed the way repo2docker installs it (no Docker here: a fresh venv,
`pip install -r binder/requirements.txt` from the repository root, postBuild if any),
then every demo notebook executed through `binder/start` without AWS credentials."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
BINDER = ROOT / "binder"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
REPO_FILES = (
    "pyproject.toml",
    "README.md",
    "LICENSE",
    "claude_magic",
    "binder",
    "notebooks",
    "labextension",
)
NOT_IN_A_CLONE = ("__pycache__", ".ipynb_checkpoints", "node_modules", "lib", "*.tsbuildinfo")
OFFLINE_LINE = "claude-magic: offline mode"
BEDROCK_LINE = "claude-magic: AWS credentials found"


def clean_env(home: Path, path_prefix: Path | None = None, **extra: str) -> dict[str, str]:
    """A launch environment with no AWS or claude-magic settings and its own HOME."""
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
    env["HOME"] = str(home)
    if path_prefix is not None:
        env["PATH"] = f"{path_prefix}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


# ---------------------------------------------------------------- binder/start alone


def start_env_of(env: dict[str, str]) -> tuple[dict[str, str], str]:
    """The environment binder/start hands to the command it runs, and its stderr."""
    show = "import json, os; print(json.dumps(dict(os.environ)))"
    run = subprocess.run(
        [str(BINDER / "start"), sys.executable, "-c", show],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(run.stdout), run.stderr


@pytest.mark.parametrize(
    ("extra", "files", "offline"),
    [
        ({}, {}, True),
        ({"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "x"}, {}, False),
        ({"AWS_PROFILE": "work"}, {}, False),
        ({"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/x"}, {}, False),
        ({}, {".aws/credentials": "[default]\naws_access_key_id = AKIDEXAMPLE\n"}, False),
        ({}, {".aws/config": "[default]\nsso_session = corp\nregion = us-west-2\n"}, False),
        ({}, {".aws/config": "[default]\nregion = us-west-2\n"}, True),
        ({"AWS_BEARER_TOKEN_BEDROCK": "ABSKexample-api-key"}, {}, False),
        ({"AWS_BEARER_TOKEN_BEDROCK": ""}, {}, True),
    ],
    ids=[
        "nothing",
        "keys",
        "profile",
        "container",
        "credentials-file",
        "sso-config",
        "region-only-config",
        "api-key",
        "empty-api-key",
    ],
)
def test_start_turns_offline_mode_on_without_credentials(tmp_path, extra, files, offline):
    home = tmp_path / "home"
    for name, text in files.items():
        (home / name).parent.mkdir(parents=True, exist_ok=True)
        (home / name).write_text(text)
    seen, stderr = start_env_of(clean_env(home, **extra))
    assert (seen.get("CLAUDE_MAGIC_OFFLINE") == "1") is offline
    assert stderr.count("\n") == 1
    assert stderr.startswith(OFFLINE_LINE if offline else BEDROCK_LINE)
    if offline:
        assert float(seen["CLAUDE_MAGIC_OFFLINE_PACE"]) > 0
        assert "AWS_BEARER_TOKEN_BEDROCK" in stderr  # names the API key as a way in
    elif extra.get("AWS_BEARER_TOKEN_BEDROCK"):
        assert "API key" in stderr


def test_start_respects_an_explicit_choice(tmp_path):
    seen, stderr = start_env_of(clean_env(tmp_path / "home", CLAUDE_MAGIC_OFFLINE="0"))
    assert seen["CLAUDE_MAGIC_OFFLINE"] == "0" and stderr.startswith(BEDROCK_LINE)
    seen, stderr = start_env_of(
        clean_env(tmp_path / "home", CLAUDE_MAGIC_OFFLINE="1", AWS_ACCESS_KEY_ID="AKIDEXAMPLE")
    )
    assert seen["CLAUDE_MAGIC_OFFLINE"] == "1" and stderr.startswith(OFFLINE_LINE)
    seen, _ = start_env_of(clean_env(tmp_path / "home", CLAUDE_MAGIC_OFFLINE_PACE="500"))
    assert seen["CLAUDE_MAGIC_OFFLINE_PACE"] == "500"


# ---------------------------------------------------------------- the repo2docker way


def _repository_copy(repo):
    """The files binder/ uses, copied to `repo` (a fresh folder) as a clone has them: the
    JupyterLab extension's sources, not its build. Its npm packages are linked from this
    checkout (what `npm ci` would fetch)."""
    repo.mkdir()
    for name in REPO_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, repo / name, ignore=shutil.ignore_patterns(*NOT_IN_A_CLONE))
        else:
            shutil.copy2(source, repo / name)
    shutil.rmtree(repo / "claude_magic" / "labextension", ignore_errors=True)
    (repo / "labextension" / "node_modules").symlink_to(ROOT / "labextension" / "node_modules")
    return repo


@pytest.fixture(scope="module")
def binder_install(tmp_path_factory):
    """A copy of the repository and a fresh venv holding what binder/ installs."""
    base = tmp_path_factory.mktemp("binder")
    repo = _repository_copy(base / "repo")
    env_dir = base / "env"
    subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True)
    install = subprocess.run(
        [
            str(env_dir / "bin" / "pip"),
            "install",
            "--disable-pip-version-check",
            "-q",
            "-r",
            "binder/requirements.txt",
        ],
        cwd=repo,
        capture_output=True,
        text=True,
        env={**os.environ, "PIP_NO_INPUT": "1"},
    )
    assert install.returncode == 0, install.stderr[-3000:]
    post_build = repo / "binder" / "postBuild"
    if post_build.exists():
        subprocess.run(
            [str(post_build)], cwd=repo, check=True, env=clean_env(base / "home", env_dir / "bin")
        )
    return repo, env_dir


@pytest.mark.timeout(900)
def test_binder_installs_the_package_not_the_checkout(binder_install, tmp_path):
    repo, env_dir = binder_install
    where = subprocess.run(
        [
            str(env_dir / "bin" / "python"),
            "-c",
            "import claude_magic, jupyterlab, ipywidgets, pandas; print(claude_magic.__file__)",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=clean_env(tmp_path / "home"),
    )
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(env_dir)


@pytest.mark.timeout(900)
def test_post_build_installs_the_jupyterlab_extension(binder_install, tmp_path):
    _, env_dir = binder_install
    listed = subprocess.run(
        [str(env_dir / "bin" / "jupyter"), "labextension", "list"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=clean_env(tmp_path / "home", env_dir / "bin"),
    )
    assert listed.returncode == 0, listed.stderr
    line = next(
        (ln for ln in (listed.stdout + listed.stderr).splitlines() if "claude-magic" in ln), ""
    )
    assert "enabled" in line and "OK" in line, listed.stdout + listed.stderr
    assert str(env_dir) in (listed.stdout + listed.stderr)  # installed in the environment


@pytest.mark.timeout(900)
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_binder_runs_each_notebook_offline(binder_install, notebook):
    repo, env_dir = binder_install
    path = repo / "notebooks" / notebook.name
    run = subprocess.run(
        [
            "binder/start",
            "jupyter",
            "execute",
            "--inplace",
            "--timeout=300",
            f"notebooks/{notebook.name}",
        ],
        cwd=repo,
        capture_output=True,
        text=True,
        env=clean_env(repo.parent / f"home-{notebook.stem}", env_dir / "bin"),
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stderr.startswith(OFFLINE_LINE)
    nb = nbformat.read(path, as_version=4)
    outputs = [o for cell in nb.cells for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o["output_type"] == "error"]
    assert all(c.execution_count for c in nb.cells if c.cell_type == "code")
    shown = "\n".join(
        str(o.get("text", "")) + str(o.get("data", {}).get("text/markdown", "")) for o in outputs
    )
    assert "Offline emulator" in shown


@pytest.fixture(scope="module")
def demo_first_run(tmp_path_factory):
    """binder/demo run for the first time in a fresh copy of the repository: it creates
    .venv, installs claude-magic and starts `jupyter lab --version`."""
    base = tmp_path_factory.mktemp("demo")
    repo = _repository_copy(base / "repo")
    return subprocess.run(
        [str(repo / "binder" / "demo"), "--version"],
        cwd=base,
        capture_output=True,
        text=True,
        env=clean_env(base / "home", PIP_NO_INPUT="1"),
        timeout=1200,
    )


@pytest.mark.timeout(1500)
def test_first_demo_run_installs_without_build_warnings(demo_first_run):
    assert demo_first_run.returncode == 0, demo_first_run.stderr[-3000:]
    assert demo_first_run.stdout.strip().split(".")[0].isdigit()  # `jupyter lab --version`
    stderr = demo_first_run.stderr
    assert "Installing claude-magic into .venv" in stderr and OFFLINE_LINE in stderr
    assert "Editable install" not in stderr and "BuildBackendWarning" not in stderr, stderr[-3000:]
    venv = Path(demo_first_run.args[0]).parents[1] / ".venv"
    assert list(venv.glob("lib/python*/site-packages/__editable__*claude_magic*")), (
        "the demo installs the checkout editable, so edits show"
    )


@pytest.mark.timeout(300)
def test_demo_script_launches_jupyterlab_through_start(binder_install, tmp_path):
    """binder/demo with an existing .venv: no install, JupyterLab runs via binder/start."""
    repo, env_dir = binder_install
    venv = repo / ".venv"
    if not venv.exists():
        venv.symlink_to(env_dir)
    run = subprocess.run(
        [str(repo / "binder" / "demo"), "--version"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=clean_env(tmp_path / "home"),
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip().split(".")[0].isdigit()  # `jupyter lab --version`
    assert OFFLINE_LINE in run.stderr
