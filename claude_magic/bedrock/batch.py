"""`map(..., backend="batch")`: the rows as one Bedrock batch inference job.

Writes the missing rows as JSONL records (`recordId`, `modelInput`) under `s3_uri`,
calls CreateModelInvocationJob, polls GetModelInvocationJob with backoff (state and
record counts), then reads `<input>.jsonl.out` and `manifest.json.out` and puts each
answer in its row by `recordId`. The job is remembered in the cache, so the same call
after a kernel restart picks the running job up instead of submitting another.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..core.errors import ClaudeMagicError
from ..core.messages import Message
from ..core.reply import Reply
from ..core.request import RequestSpec
from .errors import NO_CREDENTIALS, friendly_error
from .settings import OFFLINE_CREDENTIALS, ClientSettings, boto_session

MIN_RECORDS = 100  # Bedrock's minimum of records per job
TERMINAL = ("Completed", "PartiallyCompleted", "Failed", "Stopped", "Expired")
DEFAULT_POLL = 15.0
MAX_POLL = 120.0
_S3_URI = re.compile(r"^s3://([a-z0-9][-.a-z0-9]{1,61}[a-z0-9])(?:/(.*))?$")


@dataclass
class BatchJob:
    """A batch job submitted by `map`, as Bedrock reports it now."""

    job_arn: str
    name: str
    status: str
    model: str
    message: str | None = None
    records: int = 0
    processed: int | None = None
    failed: int | None = None
    submitted: Any = None

    @property
    def job_id(self) -> str:
        return self.job_arn.rsplit("/", 1)[-1]

    def __repr__(self) -> str:
        return f"BatchJob({str(self)!r})"

    def __str__(self) -> str:
        counts = (
            f", {self.processed}/{self.records} records"
            if self.processed is not None
            else f", {self.records} records"
        )
        failed = f", {self.failed} failed" if self.failed else ""
        note = f" ({self.message})" if self.message else ""
        return f"{self.job_id} {self.status}{counts}{failed}{note}"


def _clients(settings: ClientSettings) -> tuple[Any, Any]:
    """The bedrock control-plane client (same endpoint as bedrock-runtime when one is set)
    and an S3 client (boto3's own endpoint configuration, e.g. AWS_ENDPOINT_URL_S3)."""
    from botocore.config import Config

    session = boto_session(settings)
    credentials: dict[str, str] = {}
    if settings.offline or (settings.endpoint_url and session.get_credentials() is None):
        credentials = dict(OFFLINE_CREDENTIALS)
    elif session.get_credentials() is None:
        raise ClaudeMagicError(NO_CREDENTIALS)
    region = settings.region or session.region_name or "us-east-1"
    config = Config(
        retries={"mode": "standard", "total_max_attempts": 5},
        connect_timeout=settings.connect_timeout,
        user_agent_extra="claude-magic",
    )
    bedrock = session.client(
        "bedrock",
        region_name=region,
        endpoint_url=settings.endpoint_url,
        config=config,
        **credentials,
    )
    s3 = session.client("s3", region_name=region, config=config, **credentials)
    return bedrock, s3


def _split(uri: str) -> tuple[str, str]:
    match = _S3_URI.match(uri or "")
    if not match:
        raise ClaudeMagicError(f"s3_uri must look like s3://bucket/prefix, not {uri!r}.")
    return match.group(1), (match.group(2) or "").strip("/")


def record_id(row: int) -> str:
    return f"R{row:010d}"


def _call(what: str, function: Callable[..., Any], **kwargs: Any) -> Any:
    try:
        return function(**kwargs)
    except ClaudeMagicError:
        raise
    except Exception as exc:
        error = friendly_error(exc)
        raise ClaudeMagicError(f"{what} failed: {error.message}") from exc


def map_batch(
    settings: ClientSettings,
    spec: RequestSpec,
    prepared: Any,
    *,
    cache: Any,
    s3_uri: str | None,
    role_arn: str | None,
    poll_interval: float | None = None,
    report: Callable[[str], Any] | None = None,
) -> bool:
    """Run the missing rows of `prepared` as a batch job; True when interrupted (the job
    keeps running on Bedrock)."""
    say = report or (lambda line: None)
    todo = prepared.missing()
    if not todo:
        return False
    ids = {record_id(row): prepared.keys[row] for row in todo}
    digest = hashlib.sha256(
        "\n".join([spec.invoke_id, s3_uri or "", *ids.values()]).encode()
    ).hexdigest()
    saved = cache.job(digest) if cache is not None else None
    bedrock, s3 = None, None
    if saved is not None and not saved["collected"]:
        arn = saved["job_arn"]
        say(f"claude-magic: picking up batch job {arn.rsplit('/', 1)[-1]} submitted earlier.")
        bedrock, s3 = _clients(settings)
        output_uri = saved["s3_uri"]
    else:
        if len(todo) < MIN_RECORDS:
            raise ClaudeMagicError(
                f"A Bedrock batch job takes at least {MIN_RECORDS} records and "
                f'{len(todo)} rows are left to send: use backend="threads".'
            )
        if not s3_uri or not role_arn:
            raise ClaudeMagicError(
                'backend="batch" needs s3_uri= (an S3 prefix you own) and role_arn= '
                "(the IAM role Bedrock assumes to read and write it)."
            )
        bucket, prefix = _split(s3_uri)
        bedrock, s3 = _clients(settings)
        folder = "/".join(p for p in (prefix, f"claude-magic-{digest[:16]}") if p)
        body = "".join(
            json.dumps(
                {"recordId": rid, "modelInput": prepared.bodies[int(rid[1:])]},
                separators=(",", ":"),
            )
            + "\n"
            for rid in ids
        ).encode()
        _call(
            "Uploading the batch records to S3",
            s3.put_object,
            Bucket=bucket,
            Key=f"{folder}/input/records.jsonl",
            Body=body,
        )
        output_uri = f"s3://{bucket}/{folder}/output/"
        created: dict[str, Any] = {}
        try:  # an interrupt right after the job is created still saves its identity
            created = _call(
                "CreateModelInvocationJob",
                bedrock.create_model_invocation_job,
                jobName=f"claude-magic-{digest[:12]}-{int(time.time())}",
                roleArn=role_arn,
                modelId=spec.invoke_id,
                clientRequestToken=digest[:32] + str(int(time.time())),
                inputDataConfig={
                    "s3InputDataConfig": {
                        "s3Uri": f"s3://{bucket}/{folder}/input/",
                        "s3InputFormat": "JSONL",
                    }
                },
                outputDataConfig={"s3OutputDataConfig": {"s3Uri": output_uri}},
            )
        finally:
            if cache is not None and created.get("jobArn"):
                cache.save_job(digest, created["jobArn"], spec.invoke_id, output_uri, ids)
        arn = created["jobArn"]
        say(f"claude-magic: submitted batch job {arn.rsplit('/', 1)[-1]} with {len(ids)} records.")
    try:
        job = _poll(bedrock, arn, poll_interval or DEFAULT_POLL, say)
    except KeyboardInterrupt:
        say(
            f"claude-magic: the batch job {arn.rsplit('/', 1)[-1]} keeps running on Bedrock: run the same "
            f"map again to collect it, or claude_magic.stop_batch({arn!r})."
        )
        return True
    status = job["status"]
    found = _collect(s3, spec, prepared, output_uri, arn.rsplit("/", 1)[-1], cache)
    if cache is not None:
        cache.update_job(digest, status=status, collected=True)
    for row in todo:
        if prepared.replies[row] is None:
            prepared.fill(
                row, Reply.failed(f"no result: the batch job ended {status}", model=spec.invoke_id)
            )
    if status != "Completed":
        why = f" ({job['message']})" if job.get("message") else ""
        say(
            f"claude-magic: the batch job ended {status}{why}; {found} of {len(todo)} records have an "
            "answer, kept in their rows. Run the same map again to send the rest."
        )
    return False


def _poll(bedrock: Any, arn: str, interval: float, say: Callable[[str], Any]) -> dict[str, Any]:
    """GetModelInvocationJob until the job ends, backing off; one line per change."""
    shown = None
    wait = interval
    while True:
        job = _call("GetModelInvocationJob", bedrock.get_model_invocation_job, jobIdentifier=arn)
        status = job["status"]
        counts = (
            job.get("processedRecordCount"),
            job.get("totalRecordCount"),
            job.get("errorRecordCount"),
        )
        if (status, counts) != shown:
            shown = (status, counts)
            line = f"claude-magic: batch job {arn.rsplit('/', 1)[-1]} {status}"
            if counts[1]:
                line += f": {counts[0] or 0}/{counts[1]} records" + (
                    f", {counts[2]} failed" if counts[2] else ""
                )
            say(line)
        if status in TERMINAL:
            return job
        time.sleep(wait)
        wait = min(MAX_POLL, wait * 1.5)


def _collect(
    s3: Any, spec: RequestSpec, prepared: Any, output_uri: str, job_id: str, cache: Any
) -> int:
    """Read every `.jsonl.out` of the job and give each record's answer to its row."""
    bucket, prefix = _split(output_uri)
    folder = f"{prefix}/{job_id}/" if prefix else f"{job_id}/"
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=folder)
    keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
    found = 0
    for key in keys:
        if not key.endswith(".jsonl.out"):
            continue
        text = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
        answered = []
        for line in text.splitlines():
            if not line.strip():
                continue
            record = json.loads(line)
            rid = str(record.get("recordId", ""))
            if not (rid.startswith("R") and rid[1:].isdigit()) or int(rid[1:]) >= len(
                prepared.replies
            ):
                continue
            row = int(rid[1:])
            if "modelOutput" in record:
                message = Message.from_dict(record["modelOutput"])
                answered.append((prepared.keys[row], spec.invoke_id, message))
                reply = spec.reply(message, batch=True)
            else:
                error = record.get("error") or {}
                reply = Reply.failed(
                    f"Bedrock could not answer this record ({error.get('errorCode', '?')}): "
                    f"{error.get('errorMessage', 'no reason given')}",
                    model=spec.invoke_id,
                )
            found += reply.error is None
            prepared.fill(row, reply)
        if cache is not None and answered:
            cache.put_many(answered)
    return found


def list_jobs(settings: ClientSettings, cache: Any) -> list[BatchJob]:
    """The jobs this cache remembers, with their state from GetModelInvocationJob."""
    jobs = []
    bedrock = None
    for saved in cache.jobs():
        bedrock = bedrock or _clients(settings)[0]
        try:
            job = bedrock.get_model_invocation_job(jobIdentifier=saved["job_arn"])
        except Exception as exc:
            jobs.append(
                BatchJob(
                    saved["job_arn"],
                    "",
                    saved["status"] or "unknown",
                    saved["model"],
                    message=friendly_error(exc).message,
                    records=len(saved["records"]),
                )
            )
            continue
        jobs.append(
            BatchJob(
                job["jobArn"],
                job.get("jobName", ""),
                job["status"],
                job.get("modelId", ""),
                message=job.get("message"),
                records=len(saved["records"]),
                processed=job.get("processedRecordCount"),
                failed=job.get("errorRecordCount"),
                submitted=job.get("submitTime"),
            )
        )
    return jobs


def stop_job(settings: ClientSettings, job: Any) -> str:
    """StopModelInvocationJob for a BatchJob, an ARN or a job id; the state after."""
    arn = job.job_arn if isinstance(job, BatchJob) else str(job)
    bedrock = _clients(settings)[0]
    _call("StopModelInvocationJob", bedrock.stop_model_invocation_job, jobIdentifier=arn)
    return _call("GetModelInvocationJob", bedrock.get_model_invocation_job, jobIdentifier=arn)[
        "status"
    ]
