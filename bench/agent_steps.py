"""Agent cells in a real kernel: how soon a step's code starts after Claude asks for it,
and what a 10-step agent cell sends to the browser.

A kernel (no front end: steps run inline) runs `%%claude --agent auto` against the
emulator, scripted with 10 `run_code` steps. Each step's first statement records
`time.monotonic()`; the agent records when each call reached it (the tool_use, parsed,
handed to the workspace). Reported:

- `p50`/`p95` of call → code start, in ms (target p95 <= 50 ms on the kernel path);
- the cell's IOPub bytes over the bytes of the steps' code and outputs (as nbformat
  JSON), i.e. what the agent cell adds on top of what the steps themselves are.

The JupyterLab path (steps as cells run by the front end) is measured by
`agent_steps_lab.py`, which drives JupyterLab in Chromium.

    python bench/agent_steps.py [--steps 10] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics

from kernel_harness import BenchKernel

from claude_magic import Emulator

TARGET_P95_MS = 50.0

STEP = (
    "import time as _time\n_STARTS.append(_time.monotonic())\n"
    "print('step {n}:', sum(range({n} * 1000)))\n{n} * 2"
)


def measure(steps: int = 10, repeat: int = 3) -> dict:
    latencies: list[float] = []
    ratios: list[float] = []
    sizes: list[tuple[int, int]] = []
    with Emulator() as emulator, BenchKernel(emulator.url) as kernel:
        kernel.run("%load_ext claude_magic")
        for _ in range(repeat):
            emulator.script_steps(
                [
                    *(
                        {"tool": "run_code", "input": {"code": STEP.format(n=n)}}
                        for n in range(1, steps + 1)
                    ),
                    "Done.",
                ]
            )
            kernel.run("_STARTS = []")
            run = kernel.run(f"%%claude --agent auto --max-steps {steps}\nRun the steps.")
            kernel.run(
                "from claude_magic.notebook.session import session_of as _session_of\n"
                "_steps = _session_of(get_ipython()).last_agent.steps"
            )
            called, started, own = kernel.value(
                "[[s.called_at for s in _steps], _STARTS, "
                "[len(s.code) + len(_bench_json.dumps(s.outcome.outputs)) for s in _steps]]"
            )
            latencies += [
                (start - call) * 1000 for call, start in zip(called, started, strict=True)
            ]
            ratios.append(run.iopub_bytes / max(1, sum(own)))
            sizes.append((run.iopub_bytes, sum(own)))
    latencies.sort()
    p95 = latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))]
    return {
        "steps": steps,
        "repeat": repeat,
        "p50_ms": round(statistics.median(latencies), 2),
        "p95_ms": round(p95, 2),
        "target_p95_ms": TARGET_P95_MS,
        "iopub_bytes_over_steps": round(statistics.median(ratios), 2),
        "iopub_bytes": sizes[-1][0],
        "steps_code_and_output_bytes": sizes[-1][1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(measure(args.steps, args.repeat), indent=1))


if __name__ == "__main__":
    main()
