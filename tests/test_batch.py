"""`map(..., backend="batch")` end to end: boto3's bedrock control plane against the
emulator, which runs the job through its responder, with moto's S3 server on loopback."""

from __future__ import annotations

import _thread
import json
import threading
import time

import boto3
import pytest
from helpers import HAIKU

import claude_magic
from claude_magic.bedrock import cache as cache_module
from claude_magic.core.errors import ClaudeMagicError
from claude_magic.models.catalog import lookup

ROLE = "arn:aws:iam::123456789012:role/bedrock-batch"
KEYS = {
    "region_name": "us-east-1",
    "aws_access_key_id": "testing",
    "aws_secret_access_key": "testing",
}


@pytest.fixture(scope="module")
def s3_server():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def env(emulator, aws_env, monkeypatch, tmp_path, s3_server, request):
    monkeypatch.setenv("CLAUDE_MAGIC_ENDPOINT_URL", emulator.url)
    monkeypatch.setenv("CLAUDE_MAGIC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_server)
    emulator.s3_endpoint_url = s3_server
    emulator.batch_step = 0.02
    s3 = boto3.client("s3", endpoint_url=s3_server, **KEYS)
    bucket = f"batch-{request.node.name.replace('_', '-')[:40]}-{int(time.time() * 1000) % 100000}"
    s3.create_bucket(Bucket=bucket)
    yield {
        "emulator": emulator,
        "s3": s3,
        "bucket": bucket,
        "uri": f"s3://{bucket}/jobs",
        "bedrock": boto3.client("bedrock", endpoint_url=emulator.url, **KEYS),
    }
    emulator.batch_step = 1.0
    emulator.s3_endpoint_url = None


def _objects(env):
    listing = env["s3"].list_objects_v2(Bucket=env["bucket"]).get("Contents", [])
    return {
        o["Key"]: env["s3"].get_object(Bucket=env["bucket"], Key=o["Key"])["Body"].read()
        for o in listing
    }


def _batch(env, items, **kw):
    return claude_magic.map(
        items,
        "Label {item}",
        model=HAIKU,
        max_tokens=30,
        backend="batch",
        s3_uri=env["uri"],
        role_arn=ROLE,
        poll_interval=0.02,
        **kw,
    )


def _jobs(env):
    return env["bedrock"].list_model_invocation_jobs()["invocationJobSummaries"]


def test_batch_end_to_end_records_and_alignment(env, capsys):
    before = len(_jobs(env))
    items = [f"review {i}" for i in range(120)]
    result = _batch(env, items)
    assert [r.error for r in result] == [None] * 120
    for item, reply in zip(items, result, strict=True):
        assert f"Label {item}" in reply.text  # aligned by recordId, whatever the output order
    model = lookup(HAIKU)
    first = result[0]
    geography = "us"  # HAIKU is the us. profile: 10% over global
    batch_price = model.cost(
        first.usage.input_tokens, first.usage.output_tokens, batch=True, geography=geography
    )
    assert first.cost == pytest.approx(batch_price)  # batch prices: half the on-demand ones
    assert first.cost == pytest.approx(
        model.cost(first.usage.input_tokens, first.usage.output_tokens, geography=geography) / 2
    )
    assert env["emulator"].requests() == []  # nothing went through bedrock-runtime
    objects = _objects(env)
    (input_key,) = [k for k in objects if k.endswith("input/records.jsonl")]
    records = [json.loads(line) for line in objects[input_key].decode().splitlines()]
    assert len(records) == 120 and set(records[0]) == {"recordId", "modelInput"}
    assert records[0]["modelInput"] == {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 30,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Label review 0"}]}],
    }
    (output_key,) = [k for k in objects if k.endswith("records.jsonl.out")]
    out_ids = [json.loads(line)["recordId"] for line in objects[output_key].decode().splitlines()]
    assert sorted(out_ids) == sorted(r["recordId"] for r in records) and out_ids != sorted(out_ids)
    assert any(k.endswith("manifest.json.out") for k in objects)
    printed = capsys.readouterr().out
    assert "submitted batch job" in printed and "Completed" in printed
    (job,) = _jobs(env)[: len(_jobs(env)) - before]
    assert job["status"] == "Completed" and job["modelId"] == HAIKU
    assert (
        _batch(env, items).failed == 0 and len(_jobs(env)) == before + 1
    )  # all cached: no new job


def test_partial_failure_keeps_answers_and_reruns_only_failures(env, capsys):
    env["emulator"].fault("batch_record_error", rate=0.1)
    items = [f"ticket {i}" for i in range(150)]
    result = _batch(env, items)
    failed = [r for r in result if r.error]
    assert 0 < len(failed) < 50 and all("could not answer this record" in r.error for r in failed)
    assert "PartiallyCompleted" in capsys.readouterr().out
    with pytest.raises(ClaudeMagicError, match='at least 100 records.*backend="threads"'):
        _batch(env, items)
    retried = claude_magic.map(items, "Label {item}", model=HAIKU, max_tokens=30, progress=False)
    assert retried.failed == 0 and len(env["emulator"].requests()) == len(failed)


def test_too_few_rows_suggest_threads(env):
    with pytest.raises(
        ClaudeMagicError, match='takes at least 100 records and 5 rows.*backend="threads"'
    ):
        _batch(env, [f"x{i}" for i in range(5)])
    assert env["emulator"].requests() == []


def test_a_restarted_kernel_picks_the_running_job_up(env, capsys):
    env["emulator"].batch_step = 0.3
    before = len(_jobs(env))
    items = [f"doc {i}" for i in range(110)]

    def interrupt_once_submitted():
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any(
            j["status"] in ("Scheduled", "InProgress") for j in _jobs(env)
        ):
            time.sleep(0.02)
        _thread.interrupt_main()

    threading.Thread(target=interrupt_once_submitted, daemon=True).start()
    first = _batch(env, items)
    assert all(r.error == "not sent: interrupted" for r in first)
    assert "keeps running on Bedrock" in capsys.readouterr().out
    cache_module._OPEN.clear()  # a new kernel: nothing in memory, only the cache file
    env["emulator"].batch_step = 0.02
    second = _batch(env, items)
    assert second.failed == 0 and "Label doc 109" in second[109].text
    assert "picking up batch job" in capsys.readouterr().out
    assert len(_jobs(env)) == before + 1  # no second job submitted
    listed = claude_magic.batch_jobs()
    assert any(job.status == "Completed" and job.records == 110 for job in listed)


def test_stop_a_running_job(env, capsys):
    env["emulator"].batch_step = 0.5
    items = [f"page {i}" for i in range(300)]
    box = {}
    runner = threading.Thread(
        target=lambda: box.setdefault("result", _batch(env, items)), daemon=True
    )
    runner.start()
    deadline = time.monotonic() + 20
    job = None
    while time.monotonic() < deadline:
        jobs = [j for j in claude_magic.batch_jobs() if j.status == "InProgress"]
        if jobs:
            job = jobs[0]
            break
        time.sleep(0.05)
    assert job is not None
    assert claude_magic.stop_batch(job) in ("Stopping", "Stopped")
    runner.join(30)
    result = box["result"]
    answered = [r for r in result if r.error is None]
    assert 0 < len(answered) < 300
    assert all(r.error == "no result: the batch job ended Stopped" for r in result if r.error)
    assert "ended Stopped" in capsys.readouterr().out
    with pytest.raises(ClaudeMagicError, match="StopModelInvocationJob failed"):
        claude_magic.stop_batch(job)  # already stopped


@pytest.mark.s3  # `--with-s3` starts moto's S3 server in the emulator's process
def test_command_line_emulator_with_s3_runs_a_job(tmp_path):
    import re
    import signal
    import subprocess
    import sys

    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "claude_magic.emulator",
            "--with-s3",
            "--quiet",
            "--batch-step",
            "0.02",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = re.search(r"http://[\d.]+:\d+", process.stdout.readline()).group(0)
        s3_url = re.search(r"http://[\d.]+:\d+", process.stdout.readline()).group(0)
        s3 = boto3.client("s3", endpoint_url=s3_url, **KEYS)
        s3.create_bucket(Bucket="cli-batch")
        body = {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 20,
            "messages": [{"role": "user", "content": "hi"}],
        }
        s3.put_object(
            Bucket="cli-batch",
            Key="in/a.jsonl",
            Body="".join(
                json.dumps({"recordId": f"R{i:010d}", "modelInput": body}) + "\n"
                for i in range(100)
            ).encode(),
        )
        bedrock = boto3.client("bedrock", endpoint_url=url, **KEYS)
        arn = bedrock.create_model_invocation_job(
            jobName="cli-job",
            roleArn=ROLE,
            modelId=HAIKU,
            inputDataConfig={"s3InputDataConfig": {"s3Uri": "s3://cli-batch/in/a.jsonl"}},
            outputDataConfig={"s3OutputDataConfig": {"s3Uri": "s3://cli-batch/out/"}},
        )["jobArn"]
        states = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            job = bedrock.get_model_invocation_job(jobIdentifier=arn)
            if not states or states[-1] != job["status"]:
                states.append(job["status"])
            if job["status"] == "Completed":
                break
            time.sleep(0.005)
        assert states[-1] == "Completed" and job["successRecordCount"] == 100
        assert set(states) <= {"Submitted", "Validating", "Scheduled", "InProgress", "Completed"}
        manifest = json.loads(
            s3.get_object(
                Bucket="cli-batch", Key=f"out/{arn.rsplit('/', 1)[-1]}/manifest.json.out"
            )["Body"].read()
        )
        assert manifest["successRecordCount"] == 100 and manifest["outputTokenCount"] > 0
        with pytest.raises(bedrock.exceptions.ValidationException, match="can't be stopped"):
            bedrock.stop_model_invocation_job(jobIdentifier=arn)
        with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
            bedrock.get_model_invocation_job(jobIdentifier="aaaaaaaaaaaa")
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        finally:
            if process.poll() is None:
                process.kill()


def test_jobs_below_the_minimum_fail_and_need_a_loopback_s3(env):
    bedrock, s3 = env["bedrock"], env["s3"]
    s3.put_object(
        Bucket=env["bucket"],
        Key="small/a.jsonl",
        Body=b'{"recordId": "R0000000001", "modelInput": {}}\n',
    )
    arn = bedrock.create_model_invocation_job(
        jobName=f"small-{int(time.time() * 1000)}",
        roleArn=ROLE,
        modelId=HAIKU,
        inputDataConfig={"s3InputDataConfig": {"s3Uri": f"s3://{env['bucket']}/small/"}},
        outputDataConfig={"s3OutputDataConfig": {"s3Uri": f"s3://{env['bucket']}/out/"}},
    )["jobArn"]
    deadline = time.monotonic() + 10
    while (
        bedrock.get_model_invocation_job(jobIdentifier=arn)["status"] != "Failed"
        and time.monotonic() < deadline
    ):
        time.sleep(0.02)
    assert (
        "below the minimum of 100" in bedrock.get_model_invocation_job(jobIdentifier=arn)["message"]
    )
    with pytest.raises(bedrock.exceptions.ValidationException, match="InvokeModel"):
        bedrock.create_model_invocation_job(
            jobName=f"conv-{int(time.time() * 1000)}",
            roleArn=ROLE,
            modelId=HAIKU,
            modelInvocationType="Converse",
            inputDataConfig={"s3InputDataConfig": {"s3Uri": f"s3://{env['bucket']}/small/"}},
            outputDataConfig={"s3OutputDataConfig": {"s3Uri": f"s3://{env['bucket']}/out/"}},
        )
    with pytest.raises(ValueError, match="loopback"):
        env["emulator"].s3_endpoint_url = "http://s3.amazonaws.com"
