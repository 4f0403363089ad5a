"""`python -m claude_magic.emulator`: run the Bedrock Runtime emulator until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from .limits import MB, Limits

PROG = "claude-magic-emulator"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="A local Amazon Bedrock Runtime emulator for Anthropic Claude models. "
        "Point boto3 at it with endpoint_url=<the printed URL>.",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    parser.add_argument(
        "--port", type=int, default=0, help="port to listen on (default: any free port)"
    )
    parser.add_argument(
        "--pace",
        type=float,
        default=None,
        metavar="TOKENS_PER_S",
        help="stream replies at this many tokens per second (default: as fast as possible)",
    )
    parser.add_argument(
        "--credentials",
        default=None,
        metavar="KEY:SECRET",
        help="verify SigV4 signatures against this access key and secret",
    )
    parser.add_argument(
        "--bearer-token",
        action="append",
        default=None,
        metavar="TOKEN",
        help="accept this Bedrock API key (Authorization: Bearer); repeatable",
    )
    parser.add_argument(
        "--tls-cert", default=None, metavar="FILE", help="serve HTTPS with this PEM certificate"
    )
    parser.add_argument(
        "--tls-key", default=None, metavar="FILE", help="the private key of --tls-cert (PEM)"
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow listening on a non-loopback address (admin routes still answer loopback only)",
    )
    parser.add_argument(
        "--today",
        default=None,
        metavar="YYYY-MM-DD",
        help="judge model lifecycles (end of life) by this date (default: the real date)",
    )
    parser.add_argument(
        "--models",
        default=None,
        metavar="FILE.json",
        help="serve these models too (a JSON object or list; catalog.toml fields, id required)",
    )
    parser.add_argument(
        "--with-s3",
        action="store_true",
        help="also start a local S3 (moto's server mode, on loopback) for batch inference jobs",
    )
    parser.add_argument(
        "--s3-endpoint-url",
        default=None,
        metavar="URL",
        help="a local S3 on loopback for batch inference jobs",
    )
    parser.add_argument(
        "--batch-step",
        type=float,
        default=None,
        metavar="SECONDS",
        help="seconds each batch job state lasts (default 1)",
    )
    parser.add_argument(
        "--max-connections",
        type=int,
        default=Limits.max_connections,
        metavar="N",
        help=f"connections open at once (default {Limits.max_connections}); beyond, idle ones "
        "close, else a new one gets 503",
    )
    parser.add_argument(
        "--request-timeout",
        type=float,
        default=Limits.request_timeout,
        metavar="SECONDS",
        help="seconds a client has to send a request's headers and body "
        f"(default {Limits.request_timeout:g}); a streamed reply may take longer",
    )
    parser.add_argument(
        "--log-requests",
        type=int,
        default=Limits.log_requests,
        metavar="N",
        help=f"the request log keeps the newest N requests (default {Limits.log_requests})",
    )
    parser.add_argument(
        "--log-bytes",
        type=_size,
        default=Limits.log_bytes,
        metavar="SIZE",
        help="... and at most SIZE of their bodies, e.g. 64MB (the default)",
    )
    parser.add_argument(
        "--log-body-bytes",
        type=_size,
        default=Limits.log_body_bytes,
        metavar="SIZE",
        help="log a larger body as its size and SHA-256 only (default 1MB)",
    )
    parser.add_argument("--quiet", action="store_true", help="don't log requests to stderr")
    return parser


def _size(text: str) -> int:
    """A size in bytes: `65536`, `512KB`, `64MB` (K and M also do)."""
    number = text.strip().upper().removesuffix("B")
    scale = {"K": 1024, "M": MB}.get(number[-1:], 1)
    try:
        return int(float(number.rstrip("KM")) * scale)
    except (ValueError, OverflowError):
        raise argparse.ArgumentTypeError(
            f"not a size: {text!r} (e.g. 64MB, 512KB, 65536)"
        ) from None


def _in_flags(message: str) -> str:
    """A message about a limit in the command line's words: `--max-connections`."""
    for name in Limits.__dataclass_fields__:
        message = message.replace(name, "--" + name.replace("_", "-"))
    return message


def _fail(message: str, code: int) -> int:
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)
    return code


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from . import Emulator, RemoteNotAllowed
    from .state import MIN_PACE

    if args.pace is not None and not args.pace >= MIN_PACE:
        return _fail(f"--pace must be at least {MIN_PACE} tokens per second", 2)
    if not 0 <= args.port <= 65535:
        return _fail("--port must be between 0 and 65535", 2)
    if (args.tls_cert is None) != (args.tls_key is None):
        return _fail("--tls-cert and --tls-key go together", 2)
    models = []
    if args.models:
        from .control.catalogue import models_from_file

        try:
            models = models_from_file(args.models)
        except (ValueError, KeyError) as exc:
            return _fail(f"--models {args.models}: {exc}", 2)
        except OSError as exc:
            return _fail(f"cannot read --models {args.models}: {exc.strerror or exc}", 2)
    try:
        tls = (args.tls_cert, args.tls_key) if args.tls_cert else None
        emulator = Emulator(
            args.host,
            args.port,
            pace=args.pace,
            credentials=args.credentials,
            bearer_tokens=args.bearer_token,
            tls=tls,
            allow_remote=args.allow_remote,
            verbose=not args.quiet,
            today=args.today,
            models=models,
            max_connections=args.max_connections,
            request_timeout=args.request_timeout,
            log_requests=args.log_requests,
            log_bytes=args.log_bytes,
            log_body_bytes=args.log_body_bytes,
        )
    except RemoteNotAllowed as exc:
        return _fail(str(exc), 2)
    except ValueError as exc:
        return _fail(_in_flags(f"{exc}"), 2)
    except OSError as exc:  # an unreadable certificate or key
        return _fail(f"cannot load the TLS certificate: {exc.strerror or exc}", 2)
    s3_server = None
    try:
        if args.with_s3:
            from moto.server import ThreadedMotoServer

            s3_server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            s3_server.start()
            host, port = s3_server.get_host_and_port()
            args.s3_endpoint_url = f"http://{host}:{port}"
        emulator.s3_endpoint_url = args.s3_endpoint_url
        if args.batch_step is not None:
            emulator.batch_step = args.batch_step
    except ImportError:
        return _fail("--with-s3 needs moto's server mode: pip install 'moto[server]'", 2)
    except ValueError as exc:
        return _fail(f"{exc}", 2)
    try:
        emulator.start()
    except OSError as exc:
        return _fail(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", 1)

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    print(f"claude-magic Bedrock emulator listening on {emulator.url}", flush=True)
    if emulator.s3_endpoint_url:
        print(
            f"batch jobs use the S3 at {emulator.s3_endpoint_url} "
            f"(AWS_ENDPOINT_URL_S3={emulator.s3_endpoint_url})",
            flush=True,
        )
    try:
        while not stop.wait(0.5):
            pass
    finally:
        emulator.stop()
        if s3_server is not None:
            s3_server.stop()
    print(f"{PROG}: stopped", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
