"""The pure core: content blocks and messages, usage and cost, the request body and
Bedrock's limits (`messages`), conversations with named chats, rewind and save/load
(`conversation`), fitting a request to the limits (`fitting`), the stream fold
(`stream`), `{name}` substitution (`prompt`), Markdown to sanitised HTML (`render`)
and the user-facing error (`errors`).

May import `models` only; never IPython, boto3, ipywidgets, HTTP or imaging code.
"""
