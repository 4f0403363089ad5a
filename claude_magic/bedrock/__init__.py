"""The boto3 edge: how to reach Bedrock (`settings`), the bedrock-runtime client with
invoke, stream and CountTokens (`client`), one streamed request with interrupts and
prefill (`exchange`), and every failure as one line that says what to do (`errors`).

May import `core` and `models`; never IPython or ipywidgets. boto3 and botocore are
imported lazily, inside functions.
"""

from .client import BedrockClient, EventStream, client_for
from .errors import NO_CREDENTIALS, ClaudeError, friendly_error
from .settings import ENDPOINT_ENV, OFFLINE_ENV, ClientSettings, effective_region, settings_from_env

__all__ = [
    "ENDPOINT_ENV",
    "NO_CREDENTIALS",
    "OFFLINE_ENV",
    "BedrockClient",
    "ClaudeError",
    "ClientSettings",
    "EventStream",
    "client_for",
    "effective_region",
    "friendly_error",
    "settings_from_env",
]
