"""The admin routes are for local programs, not web pages: a request from a page that is
not on loopback (its `Origin`) or sent to a name that is not loopback (its `Host`) is
refused, and bodies must be declared JSON, which a cross-site form or a simple `fetch`
cannot do. Over real HTTP on loopback."""

from __future__ import annotations

import json
import urllib.request

import pytest
from test_emulator_wire import post

JSON = {"Content-Type": "application/json"}
SCRIPT = json.dumps({"content": "Queued by a web page"}).encode()


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "text/plain"},  # a cross-site form or fetch without a preflight
        {"Content-Type": "application/x-www-form-urlencoded"},
        {"Content-Type": "multipart/form-data; boundary=x"},
        {"Content-Type": ""},
    ],
)
def test_a_body_not_declared_json_is_refused(emulator, headers):
    response, data = post(emulator.url, "/_emulator/script", SCRIPT, headers)
    assert response.status == 415
    assert json.loads(data) == {
        "message": "Admin routes take JSON: send the body with Content-Type: application/json."
    }
    assert response.getheader("x-amzn-ErrorType").startswith("UnsupportedMediaTypeException")
    assert emulator._state.pending_scripts() == []


def test_a_body_without_a_content_type_is_refused(emulator):
    response = raw_post(emulator, "/_emulator/faults", b'{"type": "throttle"}', {})
    assert response.status == 415 and emulator.faults() == []


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "null",
        "http://127.0.0.1.evil.example",
        "http://localhost.evil.example:8888",
        "file://",
    ],
)
def test_requests_from_pages_elsewhere_are_refused(emulator, origin):
    for method, path, body in [
        ("POST", "/_emulator/script", SCRIPT),
        ("GET", "/_emulator/requests", b""),
        ("POST", "/_emulator/reset", b""),
    ]:
        response, data = post(emulator.url, path, body, {**JSON, "Origin": origin}, method=method)
        assert response.status == 403, (method, path)
        message = json.loads(data)["message"]
        assert message == f"Admin routes refuse requests from web pages (Origin {origin})."
    assert emulator._state.pending_scripts() == []


@pytest.mark.parametrize(
    "origin",
    [
        "http://localhost:8888",
        "http://127.0.0.1:8888",
        "http://[::1]:8888",
        "https://lab.localhost",
    ],
)
def test_pages_on_loopback_may_use_them(emulator, origin):
    response, data = post(emulator.url, "/_emulator/script", SCRIPT, {**JSON, "Origin": origin})
    assert response.status == 200 and json.loads(data)["queued"] == 1


@pytest.mark.parametrize(
    "host", ["rebound.example", "rebound.example:8080", "10.0.0.5:80", "127.0.0.1.rebound.example"]
)
def test_requests_to_other_names_are_refused(emulator, host):
    """A page whose DNS name was rebound to 127.0.0.1 is same-origin for the browser and
    sends no Origin on a GET, but its Host is its own name."""
    for method, path, body in [
        ("GET", "/_emulator/requests", b""),
        ("POST", "/_emulator/script", SCRIPT),
    ]:
        response, data = post(emulator.url, path, body, {**JSON, "Host": host}, method=method)
        assert response.status == 403, (method, path)
        assert json.loads(data)["message"].startswith(
            f"Admin routes answer requests to a loopback address or localhost only (Host {host})"
        )
    assert emulator._state.pending_scripts() == []
    for host in (
        f"localhost:{emulator.port}",
        f"127.0.0.1:{emulator.port}",
        f"[::1]:{emulator.port}",
    ):
        response, _ = post(
            emulator.url, "/_emulator/requests", headers={"Host": host}, method="GET"
        )
        assert response.status == 200, host


def test_json_bodies_and_bodiless_requests_are_served(emulator):
    response, data = post(
        emulator.url,
        "/_emulator/script",
        SCRIPT,
        {"Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status == 200 and json.loads(data)["queued"] == 1
    assert raw_post(emulator, "/_emulator/reset", b"", {}).status == 200  # `curl -X POST`
    response, data = post(emulator.url, "/_emulator/script", method="DELETE")
    assert response.status == 200


def test_urllib_needs_the_content_type_said(emulator):
    """urllib declares a body form-encoded unless told otherwise, so clients say JSON."""
    plain = urllib.request.Request(emulator.url + "/_emulator/script", data=SCRIPT, method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(plain, timeout=10)
    assert refused.value.code == 415
    said = urllib.request.Request(
        emulator.url + "/_emulator/script", data=SCRIPT, method="POST", headers=JSON
    )
    with urllib.request.urlopen(said, timeout=10) as response:
        assert json.load(response)["queued"] == 1


def raw_post(emulator, path: str, body: bytes, headers: dict[str, str]):
    """POST with exactly these headers (http.client adds no Content-Type)."""
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=10)
    connection.request("POST", path, body=body, headers=headers)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response
