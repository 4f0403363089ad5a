"""Citations of documents: the emulator cites documents whose citations are enabled
(InvokeModel `citations` and streamed `citations_delta`, Converse `citationsContent` and
its `citation` deltas) as langchain-aws's ChatBedrock expects, and `%%claude --doc
--cite` shows numbered markers and the cited passages (collapsible, sanitised), live and
in the saved output, with `--out` giving the text and the citations as data."""

from __future__ import annotations

import base64
import json

import pytest
from magic_helpers import last_body

from claude_magic.bedrock.converse_events import ConverseEvents, message_from_response
from claude_magic.core.citations import answer_text
from claude_magic.core.messages import Message
from claude_magic.core.render import static_bundle
from claude_magic.core.stream import fold_event

SONNET = "us.anthropic.claude-sonnet-4-6"
GRASS = {
    "type": "document",
    "source": {
        "type": "content",
        "content": [
            {"type": "text", "text": "The grass is green"},
            {"type": "text", "text": "The sky is blue"},
        ],
    },
    "citations": {"enabled": True},
}
PDF = (
    b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
    b"3 0 obj << /Type /Page /Parent 2 0 R /Contents 4 0 R >> endobj\n"
    b"4 0 obj << /Length 44 >> stream\nBT /F1 12 Tf 72 712 Td (Otters hold hands.) Tj ET\nendstream endobj\n"
    b"trailer << /Root 1 0 R >>\n%%EOF\n"
)


def request(*blocks):
    return {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 500,
        "messages": [
            {"role": "user", "content": [*blocks, {"type": "text", "text": "What do they say?"}]}
        ],
    }


def invoke(client, body):
    return json.loads(client.invoke_model(modelId=SONNET, body=json.dumps(body))["body"].read())


def cited(content):
    return [c for b in content if b.get("type") == "text" for c in b.get("citations") or []]


def test_invoke_model_cites_each_kind_of_document(bedrock_client, emulator):
    text_doc = {
        "type": "document",
        "title": "Notes",
        "citations": {"enabled": True},
        "source": {
            "type": "text",
            "media_type": "text/plain",
            "data": "\n  Otters sleep afloat.\nMore.",
        },
    }
    pdf_doc = {
        "type": "document",
        "citations": {"enabled": True},
        "source": {
            "type": "base64",
            "media_type": "application/pdf",
            "data": base64.b64encode(PDF).decode(),
        },
    }
    reply = invoke(bedrock_client, request(text_doc, pdf_doc, GRASS))
    char, page, block, sky = cited(reply["content"])
    assert char == {
        "type": "char_location",
        "cited_text": "Otters sleep afloat.",
        "document_index": 0,
        "document_title": "Notes",
        "start_char_index": 3,
        "end_char_index": 23,
    }
    assert page["type"] == "page_location" and page["cited_text"] == "Otters hold hands."
    assert (page["start_page_number"], page["end_page_number"], page["document_index"]) == (1, 2, 1)
    assert block["type"] == "content_block_location" and block["cited_text"] == "The grass is green"
    assert (sky["start_block_index"], sky["end_block_index"], sky["document_index"]) == (1, 2, 2)
    assert "not read them as Claude would" in "".join(b["text"] for b in reply["content"])


def test_documents_without_citations_enabled_are_not_cited(bedrock_client, emulator):
    reply = invoke(bedrock_client, request({**GRASS, "citations": {"enabled": False}}))
    assert cited(reply["content"]) == []


def test_the_stream_carries_citations_deltas_that_fold_into_the_blocks(bedrock_client, emulator):
    response = bedrock_client.invoke_model_with_response_stream(
        modelId=SONNET, body=json.dumps(request(GRASS))
    )
    events = [json.loads(e["chunk"]["bytes"]) for e in response["body"]]
    deltas = [
        e["delta"]
        for e in events
        if e["type"] == "content_block_delta" and e["delta"]["type"] == "citations_delta"
    ]
    assert [d["citation"]["cited_text"] for d in deltas] == [
        "The grass is green",
        "The sky is blue",
    ]
    message = Message()
    for event in events:
        fold_event(message, event)
    text, citations = answer_text([message])
    assert (
        "“The grass is green[1]”" in text and "“The sky is blue[2]”" in text and len(citations) == 2
    )


def test_converse_answers_citations_content_and_citation_deltas(bedrock_client, emulator):
    document = {
        "document": {
            "format": "txt",
            "name": "notes",
            "source": {"bytes": b"Otters sleep afloat.\n"},
            "citations": {"enabled": True},
        }
    }
    messages = [{"role": "user", "content": [document, {"text": "Cite it."}]}]
    response = bedrock_client.converse(modelId=SONNET, messages=messages)
    blocks = response["output"]["message"]["content"]
    (cited_block,) = [b["citationsContent"] for b in blocks if "citationsContent" in b]
    (citation,) = cited_block["citations"]
    assert citation["title"] == "notes" and citation["sourceContent"] == [
        {"text": "Otters sleep afloat."}
    ]
    assert citation["location"] == {"documentChar": {"documentIndex": 0, "start": 0, "end": 20}}
    message = message_from_response(response, SONNET)
    assert cited(message.content)[0]["type"] == "char_location"

    stream = bedrock_client.converse_stream(modelId=SONNET, messages=messages)["stream"]
    convert, folded = ConverseEvents(SONNET), Message()
    for item in stream:
        for event in convert(item):
            fold_event(folded, event)
    assert cited(folded.content) == cited(message.content)
    # the cited answer sent back as Converse gives it is taken
    again = [
        *messages,
        {"role": "assistant", "content": blocks},
        {"role": "user", "content": [{"text": "More?"}]},
    ]
    assert bedrock_client.converse(modelId=SONNET, messages=again)["stopReason"] == "end_turn"


def test_langchain_chat_bedrock_gets_citations(aws_env, emulator):
    """As langchain-aws's own test_citations_bedrock: invoke and stream."""
    from langchain_aws import ChatBedrock
    from langchain_core.messages import AIMessage, AIMessageChunk

    llm = ChatBedrock(
        model=SONNET, region_name="us-east-1", endpoint_url=emulator.url, max_tokens=4096
    )
    messages = [
        {
            "role": "user",
            "content": [GRASS, {"type": "text", "text": "What color is the grass and sky?"}],
        }
    ]
    response = llm.invoke(messages)
    assert isinstance(response, AIMessage) and isinstance(response.content, list)
    assert any("citations" in block for block in response.content)
    full = None
    for chunk in llm.stream(messages):
        assert isinstance(chunk, AIMessageChunk)
        full = chunk if full is None else full + chunk
    assert isinstance(full.content, list)
    assert not any("citation" in block for block in full.content)
    assert any("citations" in block for block in full.content)


# -- %%claude --cite ------------------------------------------------------------------------


@pytest.fixture
def notes(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text(
        "<script>alert(1)</script> Otters <b>hold</b> hands.\nSecond line.\n", encoding="utf-8"
    )
    return path


def test_cite_marks_the_answer_and_lists_the_passages(shell, emulator, notes):
    run = shell.ask(f"-m sonnet-4.6 --doc {notes} --cite -o answer", "What do otters do?")
    assert run.success, run.stdout + run.stderr
    (document,) = [
        b for b in last_body(emulator)["messages"][0]["content"] if b["type"] == "document"
    ]
    assert document["citations"] == {"enabled": True}
    assert "[1]" in run.stdout and "Sources:" in run.stdout and "characters 0–" in run.stdout
    answer = shell.ip.user_ns["answer"]
    assert isinstance(answer, str) and "Otters <b>hold</b> hands.[1]" in answer
    (data,) = answer.citations
    assert (
        data["number"] == 1
        and data["location"].startswith("characters 0–")
        and data["document"] == "notes.txt"
    )


def test_the_saved_bundle_shows_markers_and_escaped_passages(notes):
    citation = {
        "type": "char_location",
        "cited_text": "<script>alert(1)</script> Otters",
        "document_index": 0,
        "document_title": "notes.txt",
        "start_char_index": 0,
        "end_char_index": 32,
    }
    message = Message(
        content=[
            {"type": "text", "text": "They say: “"},
            {"type": "text", "text": "<script>alert(1)</script> Otters", "citations": [citation]},
            {"type": "text", "text": "” — and more."},
        ]
    )
    bundle = static_bundle([message], model="Claude", footer="done")
    html = bundle["text/html"]
    assert "<script" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; Otters" in html
    assert (
        'class="claude-magic-citations"' in html
        and "<details" in html
        and "characters 0–32" in html
    )
    assert "Otters[1]" in html.replace("</p>", "")
    assert "Sources:\n[1] notes.txt, characters 0–32" in bundle["text/plain"]
    assert "**Sources**" in bundle["text/markdown"] and "<script>" not in bundle["text/markdown"]


def test_cite_needs_a_document(shell, emulator):
    run = shell.ask("-m sonnet-4.6 --cite", "Cite what?")
    assert not run.success and "--cite cites attached documents: add --doc PATH." in str(run.error)


def test_cite_on_converse_shows_the_same(shell, emulator, notes):
    shell.run("%config ClaudeMagic.api = 'converse'")
    run = shell.ask(f"-m sonnet-4.6 --doc {notes} --cite -o answer", "What do otters do?")
    assert run.success, run.stdout + run.stderr
    assert shell.ip.user_ns["answer"].citations[0]["cited_text"].startswith("<script>")
    assert "[1]" in run.stdout and "Sources:" in run.stdout


def test_the_cite_trait_cites_every_document(shell, emulator, notes):
    shell.run("%config ClaudeMagic.cite = True")
    run = shell.ask(f"-m sonnet-4.6 --doc {notes}", "What do otters do?")
    assert run.success and "Sources:" in run.stdout
