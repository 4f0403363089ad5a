"""Many prompts: `claude_magic.map` against the emulator paced like Claude, side by side
with the naive loop of `ask` calls; rows lost under 5 % throttling; peak memory for
10,000 rows; the batch backend's client time for 10,000 records.

Run: python bench/map_throughput.py [--rows 1000] [--naive-rows 40] [--memory-rows 10000]
     [--batch-records 10000] [--skip-batch]
The emulator (and moto's S3, for the batch figures) run in their own process, so the
memory figures are the client's alone. Prints figures, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODEL = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
PACE = 50.0  # tokens per second
ANSWER_TOKENS = 60
CONCURRENCY = 16


def start_emulator(*args: str) -> tuple[subprocess.Popen, str, str | None]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "claude_magic.emulator", "--quiet", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    url = re.search(r"http://[\d.]+:\d+", process.stdout.readline()).group(0)
    s3 = None
    if "--with-s3" in args:
        s3 = re.search(r"http://[\d.]+:\d+", process.stdout.readline()).group(0)
    return process, url, s3


def admin(url: str, route: str, payload: object, method: str = "POST") -> None:
    request = urllib.request.Request(
        url + "/_emulator/" + route,
        data=json.dumps(payload).encode(),
        method=method,
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=10).read()


def requests_log(url: str) -> list[dict]:
    with urllib.request.urlopen(url + "/_emulator/requests", timeout=30) as response:
        return json.loads(response.read())["requests"]


def use(url: str, cache_dir: str) -> None:
    os.environ.update(
        CLAUDE_MAGIC_ENDPOINT_URL=url,
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        CLAUDE_MAGIC_CACHE_DIR=cache_dir,
    )


def prompts(n: int, tag: str) -> list[str]:
    return [f"Label review {tag}-{i}: the product arrived on time and works." for i in range(n)]


def paced_figures(url: str, rows: int, naive_rows: int, adaptive_rows: int = 300) -> dict:
    import claude_magic

    admin(url, "config", {"pace": PACE})
    single = []
    for i in range(3):
        began = time.perf_counter()
        claude_magic.ask(f"warm-up {i}", model=MODEL, max_tokens=ANSWER_TOKENS)
        single.append(time.perf_counter() - began)
    single_s = statistics.median(single)

    began = time.perf_counter()
    for text in prompts(naive_rows, "naive"):
        claude_magic.ask(text, model=MODEL, max_tokens=ANSWER_TOKENS)
    naive_per_row = (time.perf_counter() - began) / naive_rows

    ideal = rows * single_s / CONCURRENCY
    began = time.perf_counter()
    result = claude_magic.map(
        prompts(rows, "map"),
        model=MODEL,
        max_tokens=ANSWER_TOKENS,
        concurrency=CONCURRENCY,
        progress=False,
        cache=False,
    )
    wall = time.perf_counter() - began
    assert result.failed == 0, result.summary()

    admin(url, "requests", None, method="DELETE")
    admin(url, "faults", {"type": "throttle", "times": 100_000, "rate": 0.05})
    began = time.perf_counter()
    throttled = claude_magic.map(
        prompts(rows, "throttled"),
        model=MODEL,
        max_tokens=ANSWER_TOKENS,
        concurrency=CONCURRENCY,
        progress=False,
        cache=False,
    )
    throttled_wall = time.perf_counter() - began
    admin(url, "faults", None, method="DELETE")
    statuses = [r["status"] for r in requests_log(url)]

    # The same throttling with botocore's adaptive retry mode (its client-side rate limiter).
    small = max(CONCURRENCY, adaptive_rows)
    small_ideal = small * single_s / CONCURRENCY
    times = {}
    for mode in ("standard", "adaptive"):
        admin(url, "faults", {"type": "throttle", "times": 100_000, "rate": 0.05})
        began = time.perf_counter()
        claude_magic.map(
            prompts(small, f"mode-{mode}"),
            model=MODEL,
            max_tokens=ANSWER_TOKENS,
            concurrency=CONCURRENCY,
            progress=False,
            cache=False,
            retry_mode=mode,
        )
        times[mode] = time.perf_counter() - began
        admin(url, "faults", None, method="DELETE")
    admin(url, "config", {"pace": None})
    return {
        "rows": rows,
        "concurrency": CONCURRENCY,
        "pace_tokens_per_s": PACE,
        "single_request_s": round(single_s, 3),
        "ideal_s": round(ideal, 1),
        "map_s": round(wall, 1),
        "map_over_ideal": round(wall / ideal, 3),
        "naive_rows_measured": naive_rows,
        "naive_s_per_row": round(naive_per_row, 3),
        "naive_s_for_all_rows": round(naive_per_row * rows, 1),
        "naive_over_map": round(naive_per_row * rows / wall, 1),
        "throttled_429s": statuses.count(429),
        "throttled_rows_lost": throttled.failed,
        "throttled_map_s": round(throttled_wall, 1),
        "throttled_over_ideal": round(throttled_wall / ideal, 3),
        "retry_mode_rows": small,
        "throttled_standard_over_ideal": round(times["standard"] / small_ideal, 3),
        "throttled_adaptive_over_ideal": round(times["adaptive"] / small_ideal, 3),
    }


def memory_figures(url: str, rows: int) -> dict:
    import claude_magic

    out = {}
    for n in (rows // 10, rows):
        tracemalloc.start()
        began = time.perf_counter()
        result = claude_magic.map(
            prompts(n, f"memory{n}"),
            model=MODEL,
            max_tokens=ANSWER_TOKENS,
            concurrency=CONCURRENCY,
            progress=False,
        )
        seconds = time.perf_counter() - began
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert result.failed == 0
        out[f"peak_mb_{n}_rows"] = round(peak / 2**20, 1)
        out[f"peak_kb_per_row_{n}_rows"] = round(peak / n / 1024, 2)
        out[f"seconds_{n}_rows_traced"] = round(seconds, 1)
        del result
    return out


def batch_figures(url: str, s3_url: str, records: int) -> dict:
    import boto3

    from claude_magic.bedrock.ask import answer_source, user_content
    from claude_magic.bedrock.batch import map_batch
    from claude_magic.bedrock.cache import cache_at
    from claude_magic.bedrock.many import prepare
    from claude_magic.bedrock.settings import ClientSettings, settings_from_env
    from claude_magic.notebook.ask_options import make_spec
    from claude_magic.notebook.config import DEFAULTS

    os.environ["AWS_ENDPOINT_URL_S3"] = s3_url
    boto3.client("s3", endpoint_url=s3_url, region_name="us-east-1").create_bucket(
        Bucket="bench-batch"
    )
    admin(url, "config", {"batch_step": 0.05})
    settings = settings_from_env(ClientSettings())
    spec = make_spec(DEFAULTS, "us-east-1", model=MODEL, max_tokens=ANSWER_TOKENS)
    cache = cache_at(os.environ["CLAUDE_MAGIC_CACHE_DIR"])
    marks: dict[str, float] = {}

    def report(line: str) -> None:
        if "submitted batch job" in line:
            marks["submitted"] = time.perf_counter()
        if re.search(r"(Completed|PartiallyCompleted|Failed|Stopped|Expired)(:|$)", line):
            marks.setdefault("ended", time.perf_counter())

    began = time.perf_counter()
    prepared = prepare(
        spec,
        [user_content(p) for p in prompts(records, "batch")],
        cache,
        source=answer_source(settings, built_in_emulator=False),
    )
    map_batch(
        settings,
        spec,
        prepared,
        cache=cache,
        s3_uri="s3://bench-batch/jobs",
        role_arn="arn:aws:iam::123456789012:role/bench",
        poll_interval=0.2,
        report=report,
    )
    finished = time.perf_counter()
    assert all(r is not None and r.error is None for r in prepared.replies)
    upload = marks["submitted"] - began
    collect = finished - marks["ended"]
    return {
        "records": records,
        "prepare_upload_submit_s": round(upload, 2),
        "collect_s": round(collect, 2),
        "client_s": round(upload + collect, 2),
        "client_ms_per_record": round((upload + collect) / records * 1000, 3),
        "job_wait_s": round(marks["ended"] - marks["submitted"], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--naive-rows", type=int, default=40)
    parser.add_argument("--memory-rows", type=int, default=10_000)
    parser.add_argument("--batch-records", type=int, default=10_000)
    parser.add_argument("--skip-batch", action="store_true")
    args = parser.parse_args()
    print(
        json.dumps(
            measure(
                args.rows,
                args.naive_rows,
                args.memory_rows,
                0 if args.skip_batch else args.batch_records,
            )
        )
    )


def measure(
    rows: int = 1000, naive_rows: int = 40, memory_rows: int = 10_000, batch_records: int = 10_000
) -> dict:
    process, url, s3_url = start_emulator("--with-s3")
    results: dict = {}
    try:
        with tempfile.TemporaryDirectory() as cache_dir:
            use(url, cache_dir)
            results["paced"] = paced_figures(url, rows, naive_rows)
            print(
                f"map of {rows} rows at concurrency {CONCURRENCY}: {results['paced']['map_s']} s, "
                f"{results['paced']['map_over_ideal']}x the ideal; naive loop "
                f"{results['paced']['naive_over_map']}x slower; with 5 % throttling "
                f"{results['paced']['throttled_rows_lost']} rows lost",
                file=sys.stderr,
            )
            results["memory"] = memory_figures(url, memory_rows)
            print(f"memory: {results['memory']}", file=sys.stderr)
            if batch_records:
                results["batch"] = batch_figures(url, s3_url, batch_records)
                print(f"batch: {results['batch']}", file=sys.stderr)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    return results


if __name__ == "__main__":
    main()
