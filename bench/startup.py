"""Start-up: `%load_ext claude_magic`, and what the first `%%claude` adds before its
request reaches Bedrock.

- load_ext: the execute of `%load_ext claude_magic` as the first cell of a fresh
  kernel, end to end (execute request to idle), next to an empty first cell in
  another fresh kernel; and in a fresh plain-IPython subprocess (InteractiveShell,
  no kernel), timed inside it.
- first `%%claude`: in a fresh kernel with the extension loaded, the time from the
  execute request to the emulator receiving the model request, minus the same for
  a bare boto3 `invoke_model_with_response_stream` (import, client, call) in another
  fresh kernel. Both are the first Bedrock call of their kernel, so both pay boto3's
  import and client creation; the difference is what claude-magic adds (target
  <= 50 ms, no images). The same difference for a second, warm call is reported too.

    python bench/startup.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from kernel_harness import BenchKernel, bytecode_env
from workload import PROMPT, claude_cell, model_id

TARGET_LOAD_EXT_MS = 300.0
TARGET_FIRST_CLAUDE_MS = 50.0

PLAIN_IPYTHON = r"""
import json, time
started = time.perf_counter()
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
shell_ready = time.perf_counter()
shell.run_line_magic("load_ext", "claude_magic")
loaded = time.perf_counter()
print(json.dumps({"shell_s": shell_ready - started, "load_ext_s": loaded - shell_ready,
                  "has_magic": "claude" in shell.magics_manager.magics["cell"]}))
"""

BARE_CLIENT = """
import json as _j, os as _os
import boto3 as _boto3
_c = _boto3.client("bedrock-runtime", region_name="us-east-1", endpoint_url=_os.environ["CLAUDE_MAGIC_ENDPOINT_URL"])
"""
BARE_REQUEST = """
_r = _c.invoke_model_with_response_stream(modelId={model!r}, body=_j.dumps({{
    "anthropic_version": "bedrock-2023-05-31", "max_tokens": 4096,
    "messages": [{{"role": "user", "content": {prompt!r}}}]}}))
_text = "".join(_j.loads(e["chunk"]["bytes"]).get("delta", {{}}).get("text", "") for e in _r["body"])
"""


PAUSE_S = 1.0  # between `%load_ext` and the first `%%claude`: less than a person takes to type one


def _to_request(emulator, kernel: BenchKernel, code: str) -> float:
    """Seconds from sending `code` to the emulator receiving its model request."""
    emulator.clear_requests()
    emulator.script({"content": [{"type": "text", "text": "ok"}]})
    sent = time.time()
    kernel.run(code)
    requests = emulator.requests()
    if len(requests) != 1:
        raise RuntimeError(f"expected one model request, got {len(requests)}")
    return requests[0]["time"] - sent


def measure(runs: int = 3) -> dict:
    from claude_magic.emulator import Emulator

    load_ms, empty_ms, claude_first, bare_first, claude_warm, bare_warm = [], [], [], [], [], []
    claude_first_widgets_loaded, claude_first_after_pause = [], []
    request = BARE_REQUEST.format(model=model_id(), prompt=PROMPT)
    with Emulator() as emulator:
        with BenchKernel(emulator.url) as kernel:  # once: byte-compile what the runs import
            kernel.run("%load_ext claude_magic")
            _to_request(emulator, kernel, claude_cell())
        for _ in range(runs):
            with BenchKernel(emulator.url) as kernel:  # load_ext, then the first %%claude
                load_ms.append(kernel.run("%load_ext claude_magic").seconds * 1000)
                claude_first.append(_to_request(emulator, kernel, claude_cell()) * 1000)
                claude_warm.append(_to_request(emulator, kernel, claude_cell()) * 1000)
            with BenchKernel(
                emulator.url
            ) as kernel:  # load_ext, a user's pause, the first %%claude
                kernel.run("%load_ext claude_magic")
                time.sleep(PAUSE_S)
                claude_first_after_pause.append(_to_request(emulator, kernel, claude_cell()) * 1000)
            with BenchKernel(emulator.url) as kernel:  # the same, ipywidgets imported beforehand
                kernel.run("%load_ext claude_magic")
                kernel.run("import ipywidgets")
                claude_first_widgets_loaded.append(
                    _to_request(emulator, kernel, claude_cell()) * 1000
                )
            with BenchKernel(emulator.url) as kernel:  # an empty first cell, then bare boto3
                empty_ms.append(kernel.run("").seconds * 1000)
                bare_first.append(_to_request(emulator, kernel, BARE_CLIENT + request) * 1000)
                bare_warm.append(_to_request(emulator, kernel, request) * 1000)
    plain = []
    env = bytecode_env(dict(os.environ))
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", PLAIN_IPYTHON],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
            env=env,
        )
        plain.append(json.loads(out.stdout.strip().splitlines()[-1]))
    med = statistics.median
    return {
        "runs": runs,
        "load_ext_ms": round(med(load_ms), 1),
        "load_ext_runs_ms": [round(x, 1) for x in load_ms],
        "empty_first_cell_ms": round(med(empty_ms), 1),
        "load_ext_plain_ipython_ms": round(med(p["load_ext_s"] for p in plain) * 1000, 1),
        "plain_ipython_shell_ms": round(med(p["shell_s"] for p in plain) * 1000, 1),
        "first_claude_to_request_ms": round(med(claude_first), 1),
        "first_bare_boto3_to_request_ms": round(med(bare_first), 1),
        "first_claude_overhead_ms": round(med(claude_first) - med(bare_first), 1),
        "first_claude_after_pause_overhead_ms": round(
            med(claude_first_after_pause) - med(bare_first), 1
        ),
        "first_claude_to_request_ipywidgets_imported_ms": round(
            med(claude_first_widgets_loaded), 1
        ),
        "first_claude_overhead_ipywidgets_imported_ms": round(
            med(claude_first_widgets_loaded) - med(bare_first), 1
        ),
        "warm_claude_to_request_ms": round(med(claude_warm), 1),
        "warm_bare_boto3_to_request_ms": round(med(bare_warm), 1),
        "warm_claude_overhead_ms": round(med(claude_warm) - med(bare_warm), 1),
        "targets": {
            "load_ext_ms": TARGET_LOAD_EXT_MS,
            "first_claude_overhead_ms": TARGET_FIRST_CLAUDE_MS,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    started = time.monotonic()
    result = measure(parser.parse_args().runs)
    print(
        f"%load_ext claude_magic in a fresh kernel: {result['load_ext_ms']} ms end to end "
        f"(an empty first cell: {result['empty_first_cell_ms']} ms); in plain IPython: "
        f"{result['load_ext_plain_ipython_ms']} ms"
    )
    print(
        f"first %%claude to request: {result['first_claude_to_request_ms']} ms vs bare boto3 "
        f"{result['first_bare_boto3_to_request_ms']} ms -> overhead {result['first_claude_overhead_ms']} ms; "
        f"warm: {result['warm_claude_overhead_ms']} ms; took {time.monotonic() - started:.0f} s"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
