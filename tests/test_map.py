"""`claude_magic.map` against the emulator: alignment with lists, Series and DataFrames,
per-row errors, throttling with nothing lost inside the concurrency bound, resume from
the cache, and the `%%claude --map` cell in a real kernel."""

from __future__ import annotations

import _thread
import re
import threading
import time

import pandas as pd
import pytest
from helpers import HAIKU
from kernel_helpers import run_in_kernel

import claude_magic
from claude_magic.core.errors import ClaudeMagicError


@pytest.fixture
def env(emulator, aws_env, monkeypatch, tmp_path):
    monkeypatch.setenv("CLAUDE_MAGIC_ENDPOINT_URL", emulator.url)
    monkeypatch.setenv("CLAUDE_MAGIC_CACHE_DIR", str(tmp_path / "cache"))
    return emulator


def _prompt_of(request):
    return request["body"]["messages"][0]["content"][0]["text"]


def _max_overlap(requests):
    """Most requests the emulator was serving at once, from its log's timestamps."""
    edges = sorted([(r["time"], 1) for r in requests] + [(r["finished"], -1) for r in requests])
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    return peak


def test_list_results_are_aligned_with_the_items(env):
    words = [f"word{i}" for i in range(12)]
    result = claude_magic.map(
        words, "Repeat {item}", model=HAIKU, max_tokens=60, concurrency=4, progress=False
    )
    assert isinstance(result, list) and len(result) == 12
    for word, reply in zip(words, result, strict=True):
        assert reply.error is None and f"Repeat {word}" in reply.text
    assert sorted(_prompt_of(r) for r in env.requests()) == sorted(f"Repeat {w}" for w in words)
    frame = result.to_frame()
    assert list(frame.columns) == [
        "text",
        "data",
        "input_tokens",
        "output_tokens",
        "cost",
        "stop_reason",
        "error",
    ]
    assert frame["output_tokens"].gt(0).all() and result.failed == 0


def test_series_keeps_its_index(env):
    series = pd.Series(["red", "green", "blue"], index=[30, 10, 20], name="colour")
    result = claude_magic.map(
        series, "Name a {item} thing (row {index})", model=HAIKU, max_tokens=60, progress=False
    )
    assert list(result.index) == [30, 10, 20] and result.name == "colour"
    assert "Name a green thing (row 10)" in result.loc[10].text
    frame = result.to_frame()
    assert list(frame.index) == [30, 10, 20] and frame.loc[20, "error"] is None
    assert "blue" in result.texts.loc[20]


def test_dataframe_columns_fill_the_template(env):
    frame = pd.DataFrame(
        {"city": ["Oslo", "Lima"], "country": ["Norway", "Peru"]}, index=["n", "p"]
    )
    result = claude_magic.map(
        frame, "Is {city} in {country}?", model=HAIKU, max_tokens=60, progress=False
    )
    assert list(result.index) == ["n", "p"]
    assert "Is Lima in Peru?" in result.loc["p"].text
    by_function = claude_magic.map(
        frame,
        lambda row: f"Spell {row['city'].upper()}",
        model=HAIKU,
        max_tokens=60,
        progress=False,
    )
    assert "Spell OSLO" in by_function.loc["n"].text
    with pytest.raises(ClaudeMagicError, match=r"\{town\}.*use one of"):
        claude_magic.map(frame, "Where is {town}?", model=HAIKU)
    with pytest.raises(ClaudeMagicError, match="prompt template"):
        claude_magic.map(frame, model=HAIKU)


def test_a_failing_row_is_recorded_and_the_others_finish(env):
    env.fault("model_timeout", times=2)  # 408: not retried
    result = claude_magic.map(
        [f"q{i}" for i in range(10)],
        "Answer {item}",
        model=HAIKU,
        max_tokens=40,
        concurrency=3,
        progress=False,
        cache=False,
    )
    failed = [r for r in result if r.error]
    assert len(failed) == 2 and all("took too long" in r.error for r in failed)
    assert sum(1 for r in result if r.error is None) == 8
    assert "2 failed" in result.summary()


def test_throttling_loses_no_row_and_respects_the_concurrency_bound(env):
    env.pace = 400  # each answer takes a little while, so requests overlap
    try:
        env.fault("throttle", times=8)
        items = [f"row{i}" for i in range(40)]
        result = claude_magic.map(
            items,
            "Echo {item}",
            model=HAIKU,
            max_tokens=20,
            concurrency=5,
            progress=False,
            cache=False,
        )
    finally:
        env.pace = None
    assert [r.error for r in result] == [None] * 40
    requests = env.requests()
    throttled = [r for r in requests if r["status"] == 429]
    assert len(throttled) == 8
    answered = sorted(_prompt_of(r) for r in requests if r["status"] == 200)
    assert answered == sorted(f"Echo {i}" for i in items)  # every row answered exactly once
    assert 2 <= _max_overlap(requests) <= 5


def test_resume_after_an_interrupt_sends_only_missing_rows(env):
    env.pace = 200
    items = [f"item{i}" for i in range(30)]

    def interrupt_when_some_are_done():
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if sum(1 for r in env.requests() if r.get("finished")) >= 6:
                _thread.interrupt_main()
                return
            time.sleep(0.01)

    threading.Thread(target=interrupt_when_some_are_done, daemon=True).start()
    try:
        first = claude_magic.map(
            items, "Say {item}", model=HAIKU, max_tokens=20, concurrency=2, progress=False
        )
        deadline = (
            time.monotonic() + 10
        )  # requests in flight finish (and are cached) in the background
        while any(not r.get("finished") for r in env.requests()) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
    finally:
        env.pace = None
    not_sent = [r for r in first if r.error == "not sent: interrupted"]
    assert 0 < len(not_sent) < 30
    sent_first = {_prompt_of(r) for r in env.requests()}
    env.clear_requests()
    second = claude_magic.map(
        items, "Say {item}", model=HAIKU, max_tokens=20, concurrency=2, progress=False
    )
    sent_second = {_prompt_of(r) for r in env.requests()}
    assert sent_first.isdisjoint(sent_second)
    assert sent_first | sent_second == {f"Say {i}" for i in items}
    assert all(r.error is None for r in second)
    assert sum(r.cached for r in second) == len(sent_first)
    env.clear_requests()
    claude_magic.map(items, "Say {item}", model=HAIKU, max_tokens=20, progress=False)
    assert env.requests() == []  # all answered: nothing sent
    claude_magic.map(
        items[:3], "Say {item}", model=HAIKU, max_tokens=20, progress=False, cache=False
    )
    assert len(env.requests()) == 3


def test_bad_arguments_are_one_line_errors(env):
    with pytest.raises(ClaudeMagicError, match="backend"):
        claude_magic.map(["a"], backend="processes")
    with pytest.raises(ClaudeMagicError, match="concurrency"):
        claude_magic.map(["a"], concurrency=0)
    with pytest.raises(ClaudeMagicError, match="single string"):
        claude_magic.map("abc")


def test_map_cell_in_a_real_kernel(env, new_kernel, tmp_path):
    with new_kernel() as kernel:
        run_in_kernel(kernel, "%load_ext claude_magic\nrows = ['alpha', 'beta', 'gamma']")
        _, messages = run_in_kernel(
            kernel,
            "%%claude --map rows --out res --concurrency 2 -m haiku-4.5 --max-tokens 40\n"
            "Describe {item} briefly",
        )
        printed = "".join(
            m["content"].get("text", "") for m in messages if m["msg_type"] == "stream"
        )
        assert "3 rows, 0 failed" in printed and "[0]" in printed
        _, messages = run_in_kernel(
            kernel, "print(len(res), all('Describe beta' in res[1].text for _ in [0]))"
        )
        out = "".join(m["content"].get("text", "") for m in messages if m["msg_type"] == "stream")
        assert out.strip() == "3 True"
    assert sorted(_prompt_of(r) for r in env.requests()) == [
        f"Describe {w} briefly" for w in ("alpha", "beta", "gamma")
    ]


def test_random_throttling_at_a_rate_loses_nothing(env):
    env.fault("throttle", times=1000, rate=0.2)
    result = claude_magic.map(
        [f"n{i}" for i in range(30)],
        "Count {item}",
        model=HAIKU,
        max_tokens=20,
        concurrency=4,
        progress=False,
        cache=False,
    )
    env.clear_faults()
    assert result.failed == 0
    statuses = [r["status"] for r in env.requests()]
    assert statuses.count(200) == 30 and 0 < statuses.count(429) < 30
    with pytest.raises(ValueError, match="needs a rate"):
        env.fault("batch_record_error")
    with pytest.raises(ValueError, match="rate must be"):
        env.fault("throttle", rate=1.5)


def test_the_concurrency_shrinks_on_throttling_and_grows_back():
    from claude_magic.bedrock.pool import GROW_AFTER, AdaptiveLimit

    now = [0.0]
    limit, stop = AdaptiveLimit(8, quiet=1.0, clock=lambda: now[0]), threading.Event()

    def one(**signal):
        assert limit.acquire(stop)
        limit.release(**signal)

    for expected in (4, 2, 1, 1):
        one(throttled=True)
        assert limit.limit == expected
        now[0] += 1.0
    one(throttled=True)
    one(throttled=True)  # within the quiet second: counted once
    assert limit.limit == 1
    for _ in range(GROW_AFTER * 3):
        one()
    assert limit.limit == 4 and limit.lowest == 1
    now[0] += 1.0
    one(retried=True)  # a success that needed botocore's retries: one less
    assert limit.limit == 3
    for _ in range(GROW_AFTER * 20):
        one()
    assert limit.limit == 8  # never above the ceiling


def test_the_progress_bar_counts_rows_failures_tokens_and_cost(env, capsys):
    env.fault("model_timeout", times=1)
    claude_magic.map(
        ["a", "b", "c"], "Say {item}", model=HAIKU, max_tokens=20, concurrency=1, cache=False
    )
    bar = capsys.readouterr().err
    assert "3/3" in bar and "failed=1" in bar and re.search(r"tokens=[1-9][\d,]* \$0\.\d{4}", bar)


def test_map_cell_options_in_a_shell(env):
    from magic_helpers import Shell

    shell = Shell()
    try:
        shell.run("rows = ['one', 'two']")
        run = shell.run(
            "%%claude --map rows -o out -m haiku-4.5 --max-tokens 30 -s 'Be short.'\nSpell {item}"
        )
        assert run.success and "2 rows, 0 failed" in run.stdout
        assert [r.error for r in shell.ip.user_ns["out"]] == [None, None]
        assert all(r["body"]["system"] == "Be short." for r in env.requests())
        for line, message in (
            ("--map rows --tools f", "--tools doesn't combine with --map"),
            ("--concurrency 2", "--concurrency applies to --map"),
            ("--map nothing_here", "no variable 'nothing_here'"),
        ):
            run = shell.run(f"%%claude {line}\nSpell {{item}}")
            assert not run.success and message in str(run.error)
    finally:
        shell.close()
