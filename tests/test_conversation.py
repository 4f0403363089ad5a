"""Conversations: wire messages, named chats, rewind, commit rules, trimming,
save/load and notebook export. Requests built here are sent to the emulator
through a real boto3 client to prove Bedrock would accept them."""

from __future__ import annotations

import base64
import json

import pytest
from helpers import HAIKU as MODEL
from helpers import png, png_b64

from claude_magic.core.conversation import (
    INTERRUPTED_MARK,
    NO_ANSWER_INTERRUPTED,
    TOOL_NOT_RUN,
    Chats,
    Conversation,
    Turn,
)
from claude_magic.core.fitting import fit_body
from claude_magic.core.messages import (
    MAX_BODY_BYTES,
    Message,
    Usage,
    count_blocks,
    image_block,
    text_block,
    tool_result_block,
    tool_use_block,
)


def reply(text: str, input_tokens: int = 10, output_tokens: int = 5, **kw) -> Message:
    return Message(content=[text_block(text)], usage=Usage(input_tokens, output_tokens), **kw)


def turn(prompt: str, answer: str | None = "ok", cell_id: str | None = None, **kw) -> Turn:
    t = Turn([text_block(prompt)], cell_id=cell_id, **kw)
    if answer is not None:
        t.add_reply(reply(answer))
    return t


def image_turn(prompt: str, n_images: int, cell: int, data: str | None = None) -> Turn:
    blocks = [
        image_block(data or png_b64((cell * 10 + i,) * 3), "image/png") for i in range(n_images)
    ]
    t = Turn(
        [*blocks, text_block(prompt)], image_labels=[f"cell {cell}"] * n_images, cell_id=f"c{cell}"
    )
    t.add_reply(reply(f"seen {n_images}"))
    return t


def send(client, body: dict, model: str = MODEL) -> dict:
    response = client.invoke_model(modelId=model, body=json.dumps(body))
    return json.loads(response["body"].read())


def roles(messages: list[dict]) -> list[str]:
    return [m["role"] for m in messages]


# ---------------------------------------------------------------- wire messages


def test_turns_alternate_and_pending_turn_comes_last():
    conv = Conversation()
    conv.add(turn("one", "first answer"))
    conv.add(turn("two", "second answer"))
    pending = Turn([text_block("three")])
    messages = conv.messages(pending)
    assert roles(messages) == ["user", "assistant", "user", "assistant", "user"]
    assert messages[-1]["content"] == [text_block("three")]
    assert messages[1]["content"][0]["text"] == "first answer"


def test_history_is_accepted_by_bedrock(bedrock_client):
    conv = Conversation(system="Be brief.")
    for i in range(3):
        conv.add(turn(f"question {i}", f"answer {i}"))
    body, omitted = conv.request_body(Turn([text_block("next")]), max_tokens=100)
    assert omitted == []
    assert body["system"] == "Be brief."
    assert send(bedrock_client, body)["role"] == "assistant"


def test_prefill_is_a_final_assistant_message_without_trailing_space(bedrock_client):
    conv = Conversation()
    conv.add(turn("one"))
    body, _ = conv.request_body(Turn([text_block("JSON please")]), prefill='{"a": ', max_tokens=50)
    assert body["messages"][-1] == {"role": "assistant", "content": '{"a":'}
    send(bedrock_client, body)


def test_add_reply_puts_prefill_back_in_front():
    t = Turn([text_block("q")])
    t.add_reply(reply(" 1}"), prefill='{"a": ')
    assert t.answer_text == '{"a": 1}'


def test_named_chats_are_separate():
    chats = Chats()
    chats.get().add(turn("hello"))
    other = chats.get("research")
    other.add(turn("a"))
    other.add(turn("b"))
    assert chats.names() == ["default", "research"]
    assert len(chats.get("default")) == 1 and len(chats.get("research")) == 2
    assert chats.get("research", new=True).turns == []
    chats.get().add(turn("again"))
    chats.reset("default")
    assert len(chats.get()) == 0
    assert chats.remove("research") and "research" not in chats


# ---------------------------------------------------------------- rewind, undo, commit


def test_rerun_of_a_cell_replaces_its_turn_and_drops_later_ones():
    conv = Conversation()
    for cell in ("a", "b", "c", "d"):
        conv.add(turn(f"prompt {cell}", cell_id=cell))
    assert conv.rewind_to_cell("b") == 3
    conv.add(turn("prompt b, edited", cell_id="b"))
    assert [t.cell_id for t in conv.turns] == ["a", "b"]
    assert conv.turns[-1].prompt_text == "prompt b, edited"
    assert conv.rewind_to_cell("zzz") == 0
    assert len(conv) == 2


def test_cells_without_id_never_rewind():
    conv = Conversation()
    conv.add(turn("x", cell_id=None))
    conv.add(turn("y", cell_id=None))
    assert conv.rewind_to_cell(None) == 0
    assert conv.rewind_to_cell("") == 0
    assert len(conv) == 2


def test_undo_and_reset():
    conv = Conversation()
    conv.add(turn("x"))
    conv.add(turn("y"))
    assert conv.undo().prompt_text == "y"
    assert [t.prompt_text for t in conv.turns] == ["x"]
    conv.reset()
    assert conv.undo() is None


def test_failed_request_before_any_answer_adds_nothing():
    conv = Conversation()
    failed = turn("q", answer=None)
    failed.error = "Bedrock is throttling requests"
    assert conv.add(failed) is False
    empty_stream = turn("q", answer="   ")
    empty_stream.error = "The stream broke off"
    assert conv.add(empty_stream) is False
    assert len(conv) == 0


def test_failed_answer_with_content_is_kept_as_interrupted():
    conv = Conversation()
    t = turn("q", answer="Half an ans")
    t.error = "The stream broke off: boom."
    assert conv.add(t) is True
    assert t.interrupted
    assert t.display_text() == "Half an ans" + INTERRUPTED_MARK
    assert "Error: The stream broke off" in conv.history_text()


def test_interrupted_partial_answers_stay_valid_on_the_wire(bedrock_client):
    conv = Conversation()
    trailing = Turn([text_block("tell me a story")], interrupted=True)
    trailing.add_reply(Message(content=[text_block("Once upon a time \n")]))
    conv.add(trailing)
    nothing = Turn([text_block("and another")], interrupted=True)
    conv.add(nothing)
    cut_tool = Turn([text_block("use the tool")], interrupted=True)
    cut_tool.add_reply(
        Message(
            content=[
                text_block("Let me look."),
                {"type": "tool_use", "id": "toolu_1", "name": "look", "input": '{"q": "x'},
            ]
        )
    )
    conv.add(cut_tool)
    assert len(conv) == 3

    messages = conv.messages(Turn([text_block("go on")]))
    assert messages[1]["content"] == [text_block("Once upon a time")]
    assert messages[3]["content"] == [text_block(NO_ANSWER_INTERRUPTED)]
    assert messages[5]["content"][1]["input"] == {}
    assert messages[6]["content"][0]["tool_use_id"] == "toolu_1"
    assert messages[6]["content"][0]["content"] == TOOL_NOT_RUN
    assert messages[6]["content"][-1] == text_block("go on")
    assert trailing.replies[0].content[0]["text"] == "Once upon a time \n"  # stored as received

    tool = {
        "name": "look",
        "description": "Look something up.",
        "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}},
    }
    body, _ = conv.request_body(Turn([text_block("go on")]), max_tokens=100, tools=[tool])
    assert send(bedrock_client, body)["role"] == "assistant"


def test_tool_loop_turn_keeps_tool_use_and_result_pairs(bedrock_client):
    conv = Conversation()
    t = Turn([text_block("weather in Rome and Oslo?")])
    first = Message(
        content=[
            text_block("Checking."),
            tool_use_block("toolu_a", "weather", {"city": "Rome"}),
            tool_use_block("toolu_b", "weather", {"city": "Oslo"}),
        ],
        stop_reason="tool_use",
    )
    t.complete(
        [
            first,
            Message(role="user", content=[tool_result_block("toolu_a", "sunny")]),
            reply("Rome is sunny; Oslo I could not check."),
        ]
    )
    conv.add(t)
    messages = conv.messages(Turn([text_block("thanks")]))
    assert roles(messages) == ["user", "assistant", "user", "assistant", "user"]
    results = messages[2]["content"]
    assert [b["tool_use_id"] for b in results] == [
        "toolu_a",
        "toolu_b",
    ]  # the missing one is filled in
    tool = {
        "name": "weather",
        "description": "Weather for a city.",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
    body, _ = conv.request_body(Turn([text_block("thanks")]), max_tokens=100, tools=[tool])
    send(bedrock_client, body)


def test_turn_ending_with_tool_results_merges_with_the_next_prompt(bedrock_client):
    conv = Conversation()
    t = Turn([text_block("run it")], interrupted=True, error="The stream broke off")
    t.complete(
        [
            Message(content=[tool_use_block("toolu_z", "run", {})]),
            Message(role="user", content=[tool_result_block("toolu_z", "done")]),
        ]
    )
    conv.add(t)
    messages = conv.messages(Turn([text_block("and now?")]))
    assert roles(messages) == ["user", "assistant", "user"]
    assert messages[-1]["content"] == [tool_result_block("toolu_z", "done"), text_block("and now?")]
    tool = {"name": "run", "description": "Run.", "input_schema": {"type": "object"}}
    body, _ = conv.request_body(Turn([text_block("and now?")]), max_tokens=100, tools=[tool])
    send(bedrock_client, body)


def _tool_blocks(body: dict) -> list[dict]:
    return [
        b
        for m in body["messages"]
        if isinstance(m["content"], list)
        for b in m["content"]
        if b.get("type") in ("tool_use", "tool_result")
    ]


def test_request_without_tools_sends_earlier_tool_blocks_as_text(bedrock_client):
    conv = Conversation()
    t = Turn([text_block("weather in Rome?")])
    thinking = {"type": "thinking", "thinking": "Ask the tool.", "signature": "c2ln"}
    first = Message(
        content=[thinking, tool_use_block("toolu_a", "weather", {"city": "Rome"})],
        stop_reason="tool_use",
    )
    picture = image_block(png_b64((1, 2, 3)), "image/png")
    t.complete(
        [
            first,
            Message(
                role="user", content=[tool_result_block("toolu_a", [text_block("sunny"), picture])]
            ),
            reply("Rome is sunny."),
        ]
    )
    conv.add(t)
    cut = Turn([text_block("and Oslo?")], interrupted=True)
    cut.complete(
        [
            Message(content=[tool_use_block("toolu_b", "weather", {"city": "Oslo"})]),
            Message(role="user", content=[tool_result_block("toolu_b", "", is_error=True)]),
        ]
    )
    conv.add(cut)
    before = json.dumps([r.content for r in t.replies + cut.replies])

    body, _ = conv.request_body(Turn([text_block("thanks")]), max_tokens=100)
    send(bedrock_client, body)
    assert "tools" not in body and _tool_blocks(body) == []
    assert roles(body["messages"]) == [
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
    ]
    assert body["messages"][1]["content"][0] == thinking  # thinking goes back as it came
    called, result = body["messages"][1]["content"][1], body["messages"][2]["content"]
    assert called["type"] == "text" and "weather" in called["text"] and "Rome" in called["text"]
    assert "sunny" in result[0]["text"] and result[1] == picture
    assert "Oslo" in str(body["messages"][5]) and body["messages"][-1]["content"][-1] == text_block(
        "thanks"
    )
    assert (
        json.dumps([r.content for r in t.replies + cut.replies]) == before
    )  # the chat keeps its blocks

    tool = {"name": "weather", "description": "Weather.", "input_schema": {"type": "object"}}
    body, _ = conv.request_body(Turn([text_block("again")]), max_tokens=100, tools=[tool])
    assert len(_tool_blocks(body)) == 4
    send(bedrock_client, body)


def test_usage_and_history_text():
    conv = Conversation("notes")
    a = Turn([text_block("first question")], execution_count=4, model_id=MODEL)
    a.add_reply(reply("first answer", 100, 20))
    b = Turn([text_block("second")], execution_count=5, model_id=MODEL)
    b.add_reply(reply("second answer", 150, 30))
    conv.add(a)
    conv.add(b)
    assert conv.usage_total() == Usage(250, 50)
    # Haiku 4.5 at $1/$5 per million; a geographic (us.) profile costs 10% more than global.
    assert conv.cost_total() == pytest.approx(1.1 * (250 * 1 + 50 * 5) / 1e6)
    text = conv.history_text()
    assert "Chat 'notes': 2 turns, 250 input / 50 output tokens" in text
    assert "In [4]" in text and "first answer" in text and "(150 in / 30 out)" in text


# ---------------------------------------------------------------- trimming


def test_21_images_drop_the_oldest_with_a_labelled_placeholder(bedrock_client):
    conv = Conversation()
    for cell in range(1, 8):  # 7 turns x 3 images = 21
        conv.add(image_turn(f"look at cell {cell}", 3, cell))
    body, omitted = conv.request_body(Turn([text_block("compare them")]), max_tokens=100)
    assert omitted == ["image from cell 1"]
    assert count_blocks(body["messages"], "image") == 20
    first = body["messages"][0]["content"]
    assert first[0] == text_block("[image from cell 1 omitted]")
    assert first[1]["type"] == "image"
    assert conv.turns[0].user[0]["type"] == "image"  # history itself is untouched
    send(bedrock_client, body)


def test_current_turn_images_are_kept_before_older_ones(bedrock_client):
    conv = Conversation()
    conv.add(image_turn("old", 2, 1))
    pending = Turn(
        [image_block(png_b64((i,) * 3), "image/png") for i in range(20)] + [text_block("now")],
        image_labels=["cell 9"] * 20,
    )
    body, omitted = conv.request_body(pending, max_tokens=100)
    assert omitted == ["image from cell 1", "image from cell 1"]
    assert count_blocks(body["messages"][-1:], "image") == 20
    send(bedrock_client, body)


def test_images_inside_tool_results_count_and_get_placeholders():
    conv = Conversation()
    shot = image_block(png_b64(), "image/png")
    t = Turn([text_block("take screenshots")])
    t.complete(
        [
            Message(content=[tool_use_block("toolu_s", "screenshot", {})]),
            Message(
                role="user", content=[tool_result_block("toolu_s", [shot, text_block("a screen")])]
            ),
            reply("done"),
        ]
    )
    conv.add(t)
    conv.add(image_turn("more", 20, 2))
    tool = {"name": "screenshot", "input_schema": {"type": "object"}}
    body, omitted = conv.request_body(Turn([text_block("now")]), max_tokens=10, tools=[tool])
    assert omitted == ["image"]
    result = body["messages"][2]["content"][0]
    assert result["content"][0] == text_block("[image omitted]")
    assert t.results[0][0]["content"][0] is shot  # stored turn untouched


def test_body_over_20_mb_drops_oldest_images_and_is_accepted(bedrock_client):
    big = png_b64(size=(1080, 1080), noise=True)  # ~3.5 MB of PNG, ~4.7 MB of base64
    assert len(big) * 3 // 4 < 3_932_160
    conv = Conversation()
    for cell in range(1, 7):
        conv.add(image_turn(f"plot {cell}", 1, cell, data=big))
    pending = Turn([text_block("which plot is best?")])
    untrimmed = conv.messages(pending)
    assert len(json.dumps({"messages": untrimmed})) > MAX_BODY_BYTES

    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match="maximum payload size"):
        send(
            bedrock_client,
            {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 10, "messages": untrimmed},
        )

    body, omitted = conv.request_body(pending, max_tokens=100)
    assert omitted == ["image from cell 1", "image from cell 2"]
    assert len(json.dumps(body, separators=(",", ":"))) <= MAX_BODY_BYTES
    send(bedrock_client, body)


def test_fit_request_trims_wire_messages_built_by_the_caller(bedrock_client):
    conv = Conversation()
    for cell in range(1, 11):
        conv.add(image_turn(f"cell {cell}", 2, cell))
    pending = conv.new_turn(
        [image_block(png_b64(), "image/png"), text_block("and this one?")],
        image_labels=["cell 11"],
        cell_id="c11",
        execution_count=11,
        model_id=MODEL,
    )
    messages, omitted = conv.fit_request(conv.messages() + [pending.user_message()], pending)
    assert omitted == ["image from cell 1"]
    assert messages[-1]["content"][0] is pending.user[0]
    send(
        bedrock_client,
        {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 10, "messages": messages},
    )


def test_complete_partial_marks_the_turn_interrupted():
    conv = Conversation()
    t = conv.new_turn([text_block("q")])
    t.complete_partial(Message(content=[text_block("partial ")]), "The stream broke off: boom.")
    assert conv.add(t)
    assert t.interrupted and t.error == "The stream broke off: boom."
    stopped = conv.new_turn([text_block("q2")])
    stopped.complete_partial(Message(content=[text_block("so far")]), "interrupted")
    assert stopped.interrupted and stopped.error is None


def test_fit_body_returns_the_same_body_when_within_limits():
    body = {
        "messages": [{"role": "user", "content": [image_block(png_b64(), "image/png")]}],
        "max_tokens": 5,
    }
    fitted, omitted = fit_body(body)
    assert fitted is body and omitted == []


def test_trimming_shares_untouched_blocks():
    conv = Conversation()
    for cell in range(1, 23):
        conv.add(image_turn(f"cell {cell}", 1, cell))
    body, omitted = conv.request_body(Turn([text_block("?")]), max_tokens=10)
    assert len(omitted) == 2
    last_image = body["messages"][-3]["content"][0]
    assert last_image is conv.turns[-1].user[0]


# ---------------------------------------------------------------- save, load, export


def full_conversation() -> Conversation:
    conv = Conversation("study", system="You are a statistician.")
    conv.add(image_turn("what does this plot show?", 2, 3))
    t = Turn([text_block("compute it")], cell_id="c9", execution_count=9, model_id=MODEL)
    t.complete(
        [
            Message(
                content=[
                    text_block("Computing."),
                    tool_use_block("toolu_1", "mean", {"xs": [1, 2]}),
                ],
                usage=Usage(30, 10),
            ),
            Message(role="user", content=[tool_result_block("toolu_1", "1.5")]),
            reply("The mean is **1.5**.", 40, 12),
        ]
    )
    t.replies[-1].metrics["invocationLatency"] = 321
    conv.add(t)
    cut = turn("and the median?", "The median is <script>alert(1)</script> `<b>`", interrupted=True)
    conv.add(cut)
    return conv


def test_save_and_load_round_trip(tmp_path):
    chats = Chats()
    conv = full_conversation()
    chats._chats[conv.name] = conv
    chats.get().add(turn("hi"))
    path = chats.save(tmp_path / "chats.json")
    assert json.loads(path.read_text())["format"] == "claude-magic-chats"

    loaded = Chats()
    assert sorted(loaded.load(path)) == ["default", "study"]
    again = loaded.get("study")
    assert again.messages() == conv.messages()
    assert again.system == conv.system
    assert again.turns[0].user[0]["source"]["data"] == conv.turns[0].user[0]["source"]["data"]
    assert again.turns[0].image_labels == ["cell 3", "cell 3"]
    assert again.turns[1].replies[-1].metrics == {"invocationLatency": 321}
    assert again.turns[2].interrupted
    assert again.usage_total() == conv.usage_total()


def test_conversation_json_is_versioned_and_checked():
    conv = full_conversation()
    data = json.loads(conv.to_json())
    assert data["format"] == "claude-magic-conversation" and data["version"] == 1
    assert Conversation.from_json(conv.to_json()).messages() == conv.messages()
    with pytest.raises(ValueError):
        Conversation.from_json(json.dumps({"format": "something-else"}))
    with pytest.raises(ValueError):
        Conversation.from_json(json.dumps({**data, "version": 99}))


def _saved(mutate) -> dict:
    chats = Chats()
    chats._chats["study"] = full_conversation()
    data = chats.to_dict()
    mutate(data["chats"][1])
    return data


def _image_source(data: bytes, media_type: str = "image/png") -> dict:
    return {"type": "base64", "media_type": media_type, "data": base64.b64encode(data).decode()}


def _set(path: str, value):
    def mutate(chat: dict) -> None:
        *parents, last = json.loads(path)
        node = chat
        for key in parents:
            node = node[key]
        node[last] = value

    return mutate


IMAGE = '["turns", 0, "user", 0, "source"]'
BAD_FILES = [
    (_set('["turns"]', "abc"), "chats.study.turns: should be a list"),
    (_set('["name"]', 5), "chats[1].name: should be a string"),
    (_set('["system"]', {"text": "be brief"}), "chats.study.system: should be a string or null"),
    (
        _set('["turns", 1, "replies", 1, "content"]', "hi"),
        "chats.study.turns[1].replies[1].content: should be a list",
    ),
    (
        _set('["turns", 1, "replies", 0, "content", 0, "text"]', 7),
        "chats.study.turns[1].replies[0].content[0].text: should be a string",
    ),
    (
        _set('["turns", 0, "user", 0]', {"type": "picture"}),
        "chats.study.turns[0].user[0].type: should be",
    ),
    (
        _set('["turns", 0, "user", 0, "source", "data"]', "A" * 40_000_000),
        "chats.study.turns[0].user[0].source.data: the image is 38.1 MB of base64",
    ),
    (
        _set(IMAGE, _image_source(b"hello, not an image")),
        "chats.study.turns[0].user[0].source.data: not a JPEG, PNG, GIF or WebP image",
    ),
    (
        _set(IMAGE, _image_source(png(fmt="JPEG"))),
        "chats.study.turns[0].user[0].source.media_type: the image data is image/jpeg, not image/png",
    ),
    (
        _set(IMAGE, _image_source(png(fmt="BMP"), "image/bmp")),
        "chats.study.turns[0].user[0].source.media_type: should be one of",
    ),
    (
        _set(IMAGE, _image_source(png(size=(9000, 8)))),
        "chats.study.turns[0].user[0].source.data: the image is 9000 × 8 pixels",
    ),
    (
        _set(IMAGE, {**_image_source(png()), "data": "not base64!"}),
        "chats.study.turns[0].user[0].source.data: not valid base64",
    ),
    (
        _set(
            '["turns", 1, "results", 0, 0, "content"]',
            [{"type": "image", "source": _image_source(b"GIF89a")}],
        ),
        "chats.study.turns[1].results[0][0].content[0].source.data: ",
    ),
    (_set('["turns", 0, "user"]', None), "chats.study.turns[0].user: should be a list"),
    (lambda chat: chat["turns"][2].pop("user"), "chats.study.turns[2].user: missing"),
    (
        _set('["version"]', 99),
        "claude-magic-conversation version 99 is newer than this claude-magic",
    ),
]


@pytest.mark.parametrize(("mutate", "expected"), BAD_FILES)
def test_load_names_the_first_bad_path_and_changes_nothing(tmp_path, mutate, expected):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(_saved(mutate)))
    chats = Chats()
    chats.get().add(turn("kept"))
    with pytest.raises(ValueError) as caught:
        chats.load(path)
    message = str(caught.value)
    assert message.startswith(expected) and "\n" not in message and len(message) < 300, message
    assert chats.names() == ["default"] and chats.get().turns[0].prompt_text == "kept"


def test_load_command_says_what_is_wrong_in_one_line(shell, tmp_path):
    shell.ask("", "kept")
    path = tmp_path / "bad.json"
    for text, expected in (
        ("not json", "not JSON (Expecting value at line 1, column 1)"),
        (json.dumps(_saved(_set('["turns"]', "abc"))), "chats.study.turns: should be a list"),
        (
            json.dumps({"format": "claude-magic-chats", "version": 1, "chats": 3}),
            "chats: should be a list",
        ),
    ):
        path.write_text(text)
        run = shell.run(f"%claude load {path}")
        assert not run.success
        (line,) = [line for line in run.stdout.splitlines() if "Can't load" in line]
        assert line.endswith(f"Can't load {path}: {expected}. The chats are unchanged.")
        assert "Traceback" not in run.stdout + run.stderr
    assert [t.prompt_text for t in shell.magic.session.chats.get().turns] == ["kept"]
    assert shell.magic.session.chats.names() == ["default"]


def test_saved_images_of_every_allowed_type_load(tmp_path):
    chats = Chats()
    conv = chats.get("pictures")
    blocks = [
        image_block(base64.b64encode(png(fmt=fmt, size=(31, 17))).decode(), media)
        for fmt, media in (
            ("PNG", "image/png"),
            ("JPEG", "image/jpeg"),
            ("GIF", "image/gif"),
            ("WEBP", "image/webp"),
        )
    ]
    conv.add(Turn([*blocks, text_block("four pictures")]))
    chats.save(tmp_path / "pictures.json")
    assert Chats().load(tmp_path / "pictures.json") == ["default", "pictures"]


@pytest.mark.parametrize(
    ("fmt", "mode", "options", "media_type"),
    [
        ("PNG", "RGBA", {}, "image/png"),
        ("JPEG", "RGB", {"progressive": True}, "image/jpeg"),
        ("JPEG", "L", {"exif": b"Exif\x00\x00" + b"\x00" * 5000}, "image/jpeg"),
        ("GIF", "P", {}, "image/gif"),
        ("WEBP", "RGB", {}, "image/webp"),
        ("WEBP", "RGB", {"lossless": True}, "image/webp"),
        ("WEBP", "RGBA", {}, "image/webp"),
    ],
)
def test_image_headers_give_type_and_size(fmt, mode, options, media_type):
    import io

    from PIL import Image

    from claude_magic.core.image_header import ImageHeader, read_image_header

    buffer = io.BytesIO()
    Image.new(mode, (1203, 77)).save(buffer, fmt, **options)
    raw = buffer.getvalue()
    assert read_image_header(raw) == ImageHeader(media_type, 1203, 77)
    assert read_image_header(raw[:9]) is None and read_image_header(b"BM" + raw) is None


def test_export_notebook_round_trip(tmp_path):
    import nbformat

    from claude_magic.notebook.export import export_notebook

    conv = full_conversation()
    path = export_notebook(conv, tmp_path / "chat.ipynb")
    notebook = nbformat.read(str(path), as_version=4)
    nbformat.validate(notebook)
    cells = notebook.cells
    assert all(c.cell_type == "markdown" for c in cells)
    assert len(cells) == 1 + 2 * len(conv.turns)
    user = cells[1]
    assert "what does this plot show?" in user.source
    attachments = user["attachments"]
    assert len(attachments) == 2
    (name, bundle), _ = attachments.items()
    assert bundle["image/png"] == conv.turns[0].user[0]["source"]["data"]
    assert f"(attachment:{name})" in user.source and "image from cell 3" in user.source
    tool_cell = cells[4].source
    assert "The mean is **1.5**." in tool_cell and "`mean`" in tool_cell and "1.5" in tool_cell
    assert "[interrupted]" in cells[6].source
    assert "&lt;script>alert(1)&lt;/script>" in cells[6].source and "<script" not in cells[6].source
    assert "<code>&#60;b&#62;</code>" in cells[6].source  # code with `<` as an HTML code element
