"""The routes table is the emulator's one list of what it serves: every route in it
answers, and the answers to other paths and methods are derived from it."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest
from helpers import HAIKU
from test_emulator_wire import SIGNED, post

from claude_magic.emulator.routes import ADMIN, ROUTES, RUNTIME, Route, resolve


def example_path(route: Route) -> str:
    """The route's path with its labels filled in (a model id where one is asked for)."""
    return re.sub(
        r"\{(\w+)\}", lambda m: quote(HAIKU, safe="") if m[1] == "modelId" else "job1", route.shown
    )


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: f"{route.method} {route.shown}")
def test_every_route_in_the_table_answers(emulator, route):
    path = example_path(route)
    found = resolve(route.method, path)
    assert found.route is route and found.refusal() is None
    response, data = post(emulator.url, path, b"{}", SIGNED, method=route.method)
    assert response.status != 405
    assert not (response.getheader("x-amzn-ErrorType") or "").startswith(
        "UnknownOperationException"
    ), data


def test_labels_are_unquoted_and_a_model_id_may_hold_slashes():
    assert resolve("POST", "/model/a%2Fb/converse").identifier == "a/b"
    assert resolve("POST", "/model/arn:x/y/invoke").identifier == "arn:x/y"
    assert resolve("GET", "/foundation-models/a%3Ab").identifier == "a:b"


def test_another_method_on_a_served_path(emulator):
    response, data = post(emulator.url, f"/model/{HAIKU}/converse", method="PUT", headers=SIGNED)
    assert response.status == 405
    assert json.loads(data)["message"] == "PUT is not allowed here; use POST."
    methods = [route.method for route in ROUTES if route.shown == "/_emulator/script"]
    response, data = post(emulator.url, "/_emulator/script", method="PUT")
    assert response.status == 405
    assert json.loads(data)["message"] == f"PUT is not allowed here; use {' or '.join(methods)}."
    response, data = post(
        emulator.url, "/foundation-models", b"{}", SIGNED
    )  # the control plane: unknown
    assert response.status == 404
    assert json.loads(data)["message"] == "Unknown operation POST /foundation-models."


def test_unknown_paths_are_told_what_the_table_serves(emulator):
    response, data = post(emulator.url, "/nope", b"{}", SIGNED)
    message = json.loads(data)["message"]
    assert response.status == 404 and message == (
        "Unknown operation POST /nope. This emulator serves POST /model/{modelId}/invoke, "
        "/invoke-with-response-stream, /converse, /converse-stream and /count-tokens."
    )
    served = message.partition(" serves ")[2].rstrip(".").replace(" and ", ", ").split(", ")
    runtime = [route.shown for route in ROUTES if route.service is RUNTIME]
    assert [item.rpartition("/")[2] for item in served] == [
        path.rpartition("/")[2] for path in runtime
    ]
    response, data = post(emulator.url, "/_emulator/nope", method="GET")
    admin_paths = list(dict.fromkeys(route.shown for route in ROUTES if route.service is ADMIN))
    assert response.status == 404
    assert (
        json.loads(data)["message"]
        == f"Unknown admin route /_emulator/nope; try {', '.join(admin_paths)}."
    )
    assert "/_emulator/health" in admin_paths and "/_emulator/clock" in admin_paths
