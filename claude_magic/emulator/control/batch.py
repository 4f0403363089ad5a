"""Batch inference on the emulator: CreateModelInvocationJob, GetModelInvocationJob,
ListModelInvocationJobs and StopModelInvocationJob in botocore's shapes, and a
background thread per job that reads the JSONL records from S3, answers each through
the responder and writes `<input>.jsonl.out` and `manifest.json.out` back.

S3 is reached only through an endpoint URL on loopback (moto's server mode in tests and
with `--with-s3`), never a real AWS account. `step` is the seconds each state lasts.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs

from ..errors import BedrockError, validation
from ..faults import BATCH, FaultQueue

CREATE, GET, LIST, STOP = (
    "CreateModelInvocationJob",
    "GetModelInvocationJob",
    "ListModelInvocationJobs",
    "StopModelInvocationJob",
)
MIN_RECORDS = 100
ACCOUNT = "123456789012"
TERMINAL = ("Completed", "PartiallyCompleted", "Failed", "Stopped", "Expired")
DEFAULT_STEP = 1.0
_NAME = re.compile(r"^[a-zA-Z0-9]{1,63}(-*[a-zA-Z0-9+\-.]){0,63}$")
_S3_URI = re.compile(r"^s3://([a-z0-9][-.a-z0-9]{1,61}[a-z0-9])(/.*)?$")


def batch_step(value: Any) -> float:
    """Seconds each batch job state lasts (0 to 60)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 60:
        raise ValueError("batch_step must be a number of seconds between 0 and 60")
    return float(value)


def _iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return (
        datetime.fromtimestamp(seconds, timezone.utc)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def _split_s3(uri: str) -> tuple[str, str]:
    match = _S3_URI.match(uri or "")
    if not match:
        raise validation(f"{uri!r} is not a valid S3 URI: use s3://bucket/prefix.")
    return match.group(1), (match.group(2) or "/").lstrip("/")


@dataclass
class Job:
    """One batch inference job and its counts."""

    id: str
    arn: str
    name: str
    model_id: str
    role_arn: str
    input_uri: str
    output_uri: str
    request: dict[str, Any]
    status: str = "Submitted"
    message: str | None = None
    submit_time: float = field(default_factory=time.time)
    last_modified: float = field(default_factory=time.time)
    end_time: float | None = None
    total: int | None = None
    processed: int = 0
    success: int = 0
    errors: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def set(self, status: str, message: str | None = None) -> None:
        self.status = status
        if message is not None:
            self.message = message
        self.last_modified = time.time()
        if status in TERMINAL:
            self.end_time = self.last_modified

    def describe(self) -> dict[str, Any]:
        request = self.request
        out: dict[str, Any] = {
            "jobArn": self.arn,
            "jobName": self.name,
            "modelId": self.model_id,
            "clientRequestToken": request.get("clientRequestToken"),
            "roleArn": self.role_arn,
            "status": self.status,
            "message": self.message,
            "submitTime": _iso(self.submit_time),
            "lastModifiedTime": _iso(self.last_modified),
            "endTime": _iso(self.end_time),
            "inputDataConfig": request["inputDataConfig"],
            "outputDataConfig": request["outputDataConfig"],
            "timeoutDurationInHours": request.get("timeoutDurationInHours", 24),
            "jobExpirationTime": _iso(
                self.submit_time + 3600 * request.get("timeoutDurationInHours", 24)
            ),
            "modelInvocationType": request.get("modelInvocationType", "InvokeModel"),
            "totalRecordCount": self.total,
            "processedRecordCount": self.processed,
            "successRecordCount": self.success,
            "errorRecordCount": self.errors,
        }
        return {k: v for k, v in out.items() if v is not None}


class BatchJobs:
    """The emulator's batch jobs; each runs in its own thread."""

    def __init__(self, faults: FaultQueue, region: str = "us-east-1") -> None:
        self.faults = faults
        self.region = region
        self.s3_endpoint_url: str | None = None
        self.step = DEFAULT_STEP
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    # -- the operations

    def handle(self, operation: str, job_id: str | None, query: str, body: bytes) -> dict[str, Any]:
        if operation == CREATE:
            return self.create(_json(body))
        if operation == LIST:
            return self.list_jobs(parse_qs(query))
        job = self._find(job_id or "")
        if operation == GET:
            return job.describe()
        if job.status in TERMINAL or job.status == "Stopping":
            raise BedrockError(
                "ValidationException",
                f"The job is in {job.status} state and can't be stopped.",
                400,
            )
        job.set("Stopping")
        job.stop.set()
        return {}

    def create(self, request: dict[str, Any]) -> dict[str, Any]:
        from ..validation.request import resolve_model

        for key in ("jobName", "roleArn", "modelId", "inputDataConfig", "outputDataConfig"):
            if key not in request:
                raise validation(
                    f"1 validation error detected: Value null at '{key}' failed to satisfy "
                    "constraint: Member must not be null"
                )
        if not _NAME.match(str(request["jobName"])):
            raise validation(
                "1 validation error detected: Value at 'jobName' failed to satisfy "
                "constraint: Member must satisfy regular expression pattern"
            )
        hours = request.get("timeoutDurationInHours", 24)
        if not isinstance(hours, int) or not 24 <= hours <= 168:
            raise validation("timeoutDurationInHours must be between 24 and 168.")
        resolve_model(str(request["modelId"]), on_demand_check=False)
        if request.get("modelInvocationType", "InvokeModel") != "InvokeModel":
            raise validation(
                "The emulator runs batch records as InvokeModel bodies only: leave "
                "modelInvocationType out or set it to InvokeModel."
            )
        try:
            input_uri = request["inputDataConfig"]["s3InputDataConfig"]["s3Uri"]
            output_uri = request["outputDataConfig"]["s3OutputDataConfig"]["s3Uri"]
        except (KeyError, TypeError):
            raise validation(
                "inputDataConfig.s3InputDataConfig.s3Uri and "
                "outputDataConfig.s3OutputDataConfig.s3Uri are required."
            ) from None
        _split_s3(input_uri), _split_s3(output_uri)
        if not self.s3_endpoint_url:
            raise validation(
                "This emulator has no S3 to read batch input from: start it with "
                "--with-s3 (or s3_endpoint_url=... on loopback)."
            )
        with self._lock:
            token = request.get("clientRequestToken")
            for job in self._jobs.values():
                if token and job.request.get("clientRequestToken") == token:
                    return {"jobArn": job.arn}  # idempotent retry of the same create
                if job.name == request["jobName"]:
                    raise BedrockError(
                        "ConflictException", f"A job with the name {job.name} already exists.", 400
                    )
            job_id = hashlib.sha256(uuid.uuid4().bytes).hexdigest()[:12]
            arn = f"arn:aws:bedrock:{self.region}:{ACCOUNT}:model-invocation-job/{job_id}"
            job = Job(
                job_id,
                arn,
                request["jobName"],
                request["modelId"],
                request["roleArn"],
                input_uri,
                output_uri,
                request,
            )
            self._jobs[job_id] = job
        fault = self.faults.take(BATCH)
        rate = fault.rate if fault is not None else None
        threading.Thread(
            target=self._run, args=(job, rate), name=f"batch-job-{job_id}", daemon=True
        ).start()
        return {"jobArn": job.arn}

    def list_jobs(self, query: dict[str, list[str]]) -> dict[str, Any]:
        def first(name: str) -> str | None:
            return query.get(name, [None])[0]

        with self._lock:
            jobs = list(self._jobs.values())
        if first("statusEquals"):
            jobs = [j for j in jobs if j.status == first("statusEquals")]
        if name_part := first("nameContains"):
            jobs = [j for j in jobs if name_part in j.name]
        jobs.sort(key=lambda j: j.submit_time, reverse=first("sortOrder") != "Ascending")
        start = int(first("nextToken") or 0)
        size = int(first("maxResults") or 1000)
        page = jobs[start : start + size]
        out: dict[str, Any] = {"invocationJobSummaries": [j.describe() for j in page]}
        if start + size < len(jobs):
            out["nextToken"] = str(start + size)
        return out

    def _find(self, identifier: str) -> Job:
        job_id = identifier.rsplit("/", 1)[-1]
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise BedrockError(
                "ResourceNotFoundException", f"The job {identifier[:100]} was not found."
            )
        return job

    # -- running a job

    def _s3(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.s3_endpoint_url,
            region_name=self.region,
            aws_access_key_id="emulator",
            aws_secret_access_key="emulator",
        )

    def _wait(self, job: Job, seconds: float) -> bool:
        """Wait; True if the job was asked to stop meanwhile."""
        return job.stop.wait(seconds)

    def _run(self, job: Job, error_rate: float | None) -> None:
        try:
            self._run_job(job, error_rate)
        except Exception as exc:  # an unreadable bucket, a broken S3: the job fails, says why
            job.set("Failed", f"The job failed: {' '.join(str(exc).split())[:300]}")

    def _run_job(self, job: Job, error_rate: float | None) -> None:
        s3 = self._s3()
        if self._wait(job, self.step):
            return job.set("Stopped")
        job.set("Validating")
        files = self._read_input(s3, job)
        job.total = sum(len(records) for _, records in files)
        if job.total < MIN_RECORDS:
            return job.set(
                "Failed",
                f"The number of records in the input ({job.total}) is below the "
                f"minimum of {MIN_RECORDS} records for a batch inference job.",
            )
        if self._wait(job, self.step):
            return job.set("Stopped")
        job.set("Scheduled")
        if self._wait(job, self.step):
            return job.set("Stopped")
        job.set("InProgress")
        bucket, prefix = _split_s3(job.output_uri)
        folder = f"{prefix.rstrip('/')}/{job.id}/".lstrip("/")
        chunk_pause = self.step / 10
        stopped = False
        tokens = [0, 0]
        for name, records in files:
            lines = []
            for index, record in enumerate(records):
                if index and index % 10 == 0 and self._wait(job, chunk_pause):
                    stopped = True
                    break
                lines.append(self._answer(job, record, error_rate, tokens))
            random.Random(job.id).shuffle(lines)  # Bedrock doesn't keep the input's order either
            s3.put_object(
                Bucket=bucket,
                Key=f"{folder}{name}.out",
                Body="".join(json.dumps(line) + "\n" for line in lines).encode(),
            )
            if stopped:
                break
        manifest = {
            "totalRecordCount": job.total,
            "processedRecordCount": job.processed,
            "successRecordCount": job.success,
            "errorRecordCount": job.errors,
            "inputTokenCount": tokens[0],
            "outputTokenCount": tokens[1],
        }
        s3.put_object(
            Bucket=bucket, Key=f"{folder}manifest.json.out", Body=json.dumps(manifest).encode()
        )
        if stopped or job.stop.is_set():
            job.set("Stopped", f"Stopped after {job.processed} of {job.total} records.")
        elif job.errors and job.success:
            job.set("PartiallyCompleted", f"{job.errors} of {job.total} records failed.")
        elif job.errors:
            job.set("Failed", f"All {job.total} records failed.")
        else:
            job.set("Completed")

    def _read_input(self, s3: Any, job: Job) -> list[tuple[str, list[dict[str, Any]]]]:
        bucket, key = _split_s3(job.input_uri)
        if key.endswith(".jsonl"):
            keys = [key]
        else:
            pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key)
            keys = sorted(
                o["Key"]
                for page in pages
                for o in page.get("Contents", [])
                if o["Key"].endswith(".jsonl")
            )
        files = []
        for name in keys:
            text = s3.get_object(Bucket=bucket, Key=name)["Body"].read().decode("utf-8")
            records = [json.loads(line) for line in text.splitlines() if line.strip()]
            files.append((name.rsplit("/", 1)[-1], records))
        return files

    def _answer(
        self, job: Job, record: dict[str, Any], error_rate: float | None, tokens: list[int]
    ) -> dict[str, Any]:
        from ...core.messages import Message
        from ..responder.respond import estimate_input_tokens, respond
        from ..validation.request import check_body, resolve_model
        from ..wire.events import complete_message

        record_id = record.get("recordId")
        out: dict[str, Any] = {"recordId": record_id, "modelInput": record.get("modelInput")}
        job.processed += 1
        try:
            if error_rate and _draw(job.id, record_id) < error_rate:
                raise BedrockError(
                    "InternalServerException",
                    "The model could not process this record. Try the record again.",
                )
            body = record.get("modelInput")
            if not isinstance(body, dict):
                raise validation("modelInput must be a JSON object.")
            model = resolve_model(job.model_id, on_demand_check=False)
            check_body(model, body)
            reply: Message = respond(model, body)
            message = complete_message(
                reply, model, reply.usage.input_tokens or estimate_input_tokens(body)
            )
        except BedrockError as exc:
            job.errors += 1
            out["error"] = {"errorCode": exc.status, "errorMessage": exc.message}
            return out
        job.success += 1
        tokens[0] += message.usage.input_tokens
        tokens[1] += message.usage.output_tokens
        out["modelOutput"] = message.to_dict()
        return out


def _draw(job_id: str, record_id: Any) -> float:
    """A number in [0, 1) fixed by the job and the record."""
    digest = hashlib.sha256(f"{job_id}/{record_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        raise validation("The request body must be JSON.") from None
    if not isinstance(data, dict):
        raise validation("The request body must be a JSON object.")
    return data
