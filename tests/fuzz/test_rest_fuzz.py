"""Fuzzing Rasa's REST webhook (POST /webhooks/rest/webhook, bot/channels.py RestInput) on the running product.

Most inputs are malformed and cheap (the connector refuses them before the bot sees them): bodies that are not
JSON objects, wrong types, unpaired surrogate escapes, oversized and deeply nested bodies, wrong content types,
wrong methods and broken HTTP. A few hundred well-formed messages with hostile text (markup, SQL, control
characters, odd Unicode, 5,000 characters) go through the bot itself. Every answer must be a 4xx refusal
(a JSON error for a bad body) or a 200 with the bot's replies; no input may cost a 5xx, a traceback in the
logs or a process.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.e2e.stack import Stack, free_port
from tests.fuzz.conftest import FuzzCounts, assert_still_answers, tracebacks_since
from tests.fuzz.hostile import ALL_TEXTS, SCRIPT_PAYLOADS, SQL_PAYLOADS, deep, random_json_value, random_text, texts
from tests.rasa_env import RASA_PY, ROOT
from tests.waiting import wait_for

pytestmark = pytest.mark.fuzz
TARGET = "REST webhook"
HTTP_FRAMING = "REST webhook, broken HTTP framing on a bare Sanic app with Hearth's patches"
PATH = "/webhooks/rest/webhook"
JSON = {"Content-Type": "application/json"}
SEED = 20261123


def bad_authorizations(rng: random.Random, token: str) -> Iterator[dict[str, str]]:
    """Authorization headers that must not let a request in: none, other schemes, the token altered, junk."""
    yield {}
    for value in ("", "Bearer", "Bearer ", f"Basic {token}", f"Token {token}", token, f"Bearer  {token[:-1]}"):
        yield {"Authorization": value}
    for _ in range(40):
        position = rng.randrange(len(token))
        altered = token[:position] + rng.choice("0123456789abcdef".replace(token[position], "")) + token[position + 1 :]
        yield {"Authorization": f"Bearer {altered}"}
    yield {"Authorization": f"Bearer {token}x"}
    yield {"Authorization": f"Bearer {token[: len(token) // 2]}"}
    for text in texts(SEED + 3, 60, 200):
        try:
            text.encode("latin-1")
        except UnicodeEncodeError:
            continue  # an HTTP header is bytes: requests refuses to send other text
        if text.isprintable() and text.strip() == text and text:  # a header value holds no control characters
            yield {"Authorization": f"Bearer {text}"}


def _bad_sender(rng: random.Random) -> Any:
    return rng.choice(
        [
            None,
            "",
            "   ",
            "\t\n",
            "a" * 256,
            "x" * rng.randint(300, 100_000),
            "ok\x00",
            "ok\nline",
            "\x1b[2J",
            "bell\x07",
            "del\x7f",
            rng.randint(-(10**9), 10**9),
            [random_text(rng, 10)],
            {"id": random_text(rng, 10)},
            True,
            1.5,
        ]
    )


def _bad_message(rng: random.Random) -> Any:
    return rng.choice(
        [
            None,
            "",
            " ",
            "\n\t ",
            "x" * rng.randint(5001, 200_000),
            rng.randint(-5, 5),
            [random_text(rng, 20)],
            {"text": random_text(rng, 20)},
            False,
            0.0,
        ]
    )


def refused_bodies(rng: random.Random) -> Iterator[tuple[bytes, dict[str, str]]]:
    """Bodies the connector must refuse with its 400 JSON error: (body, headers)."""
    # not a JSON object at all
    for _ in range(800):
        size = rng.choice([0, 1, 2, 10, 100, 1000])
        yield bytes(rng.randrange(256) for _ in range(size)), JSON
    for _ in range(300):
        yield json.dumps(random_json_value(rng)).encode() if rng.random() < 0.5 else b"[]", JSON
    good = json.dumps({"sender": "fuzz", "message": "hello"})
    for cut in range(1, len(good)):
        yield good[:cut].encode(), JSON  # truncated
    for text in ALL_TEXTS:
        yield text.encode(), JSON
        yield ("{" + text).encode(), JSON
        yield ('{"sender": "a", "message": "hi"' + text).encode(), JSON
    # invalid UTF-8 and broken escapes inside an otherwise good object
    for raw in (b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\\x00", b"\\u12", b"\\uZZZZ"):
        yield b'{"sender": "a' + raw + b'", "message": "hi"}', JSON
        yield b'{"sender": "a", "message": "hi' + raw + b'"}', JSON
    # wrong types and values for sender, message, metadata (at least one of them wrong)
    for _ in range(2000):
        body: dict[str, Any] = {}
        wrong = rng.choice(["sender", "message", "metadata", "both", "missing"])
        body["sender"] = _bad_sender(rng) if wrong in ("sender", "both") else f"fuzz-{rng.randrange(10)}"
        body["message"] = _bad_message(rng) if wrong in ("message", "both") else "hello"
        if wrong == "metadata":
            body["metadata"] = rng.choice([[], "metadata", 5, True, [{"identity": "x"}], "{}", 0.5])
        elif rng.random() < 0.3:
            body["metadata"] = random_json_value(rng) if rng.random() < 0.2 else {"k": random_text(rng)}
        if wrong == "missing":
            del body[rng.choice(["sender", "message"])]
        for key in rng.sample(["extra", "Sender", "MESSAGE", "__proto__", "constructor"], rng.randint(0, 2)):
            body[key] = random_json_value(rng)
        yield json.dumps(body).encode(), JSON
    # unpaired surrogate escapes: valid JSON, but not text (they used to stop the Rasa server as a sender)
    for _ in range(200):
        escape = rng.choice(["\\ud800", "\\udfff", "\\udbff", "\\ud83d", "\\ude00x"])
        where = rng.choice(["sender", "message", "metadata_value", "metadata_key"])
        sender = f"a{escape}" if where == "sender" else "fuzz-surrogate"
        message = f"hi {escape}" if where == "message" else "hi"
        meta = {"v": "x" + escape} if where == "metadata_value" else {escape: 1} if where == "metadata_key" else {}
        raw = json.dumps({"sender": sender, "message": message, "metadata": meta})
        yield raw.replace("\\\\u", "\\u").encode(), JSON
    # deeply nested
    for depth in (100, 1000, 10_000, 100_000, 1_000_000):
        yield ("[" * depth + "]" * depth).encode(), JSON
        yield deep(depth).encode(), JSON
        yield ('{"sender": "a", "message": "hi", "metadata": ' + "[" * depth + "]" * depth + "}").encode(), JSON
    # huge: 1 to 5 MB
    for megabytes in (1, 2, 3, 5):
        size = megabytes * 1_000_000
        yield json.dumps({"sender": "fuzz-huge", "message": "x" * size}).encode(), JSON
        yield json.dumps({"sender": "s" * size, "message": "hi"}).encode(), JSON
        yield b"[" + b"1," * (size // 2) + b"1]", JSON
        yield bytes(rng.randrange(256) for _ in range(size // 10)) * 10, JSON
    # content types that do not carry a JSON object
    for content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=xyz",
        "multipart/form-data",
        "text/xml",
        "application/octet-stream",
    ):
        yield b"sender=a&message=hi", {"Content-Type": content_type}
        yield (
            b"--xyz\r\nContent-Disposition: form-data; name=message\r\n\r\nhi\r\n--xyz--\r\n",
            {"Content-Type": content_type},
        )
        yield b"<message>hi</message>", {"Content-Type": content_type}


def bot_messages(rng: random.Random) -> Iterator[dict[str, Any]]:
    """Well-formed messages with hostile text: they reach the bot (a few senders, so few session starts)."""
    senders = ["fuzz-rest-1", "fuzz-rest-2", SQL_PAYLOADS[0], SCRIPT_PAYLOADS[1], "fuzz 'quoted' \"sender\""]
    for i, text in enumerate([*ALL_TEXTS, *texts(SEED, 220, 400), "x " * 2499]):
        message: dict[str, Any] = {"sender": senders[i % len(senders)], "message": text}
        if i % 7 == 0:  # a forged identity and channel in the metadata: the connector replaces them
            message["metadata"] = {"identity": {"customer_id": "cus_demo_anna"}, "channel": "whatsapp", "x": text}
        yield message


def test_the_rest_webhook_refuses_malformed_requests(live_stack: Stack, fuzz_counts: FuzzCounts) -> None:
    stack, started, first_line = live_stack, time.monotonic(), len(live_stack.output)
    before = fuzz_counts.count(TARGET)
    url = stack.rasa_url + PATH
    rng = random.Random(SEED)
    session = requests.Session()
    unexpected = []
    # Without the token of an integration in REST_CLIENTS, a good body reaches no conversation: 401, whatever
    # the Authorization header holds (other schemes, near misses of the token, junk, hostile text).
    token = stack.rest_token
    good = json.dumps({"sender": "fuzz-rest-unauthorized", "message": "what do you know about me"}).encode()
    for header in bad_authorizations(rng, token):
        response = session.post(url, data=good, headers={**JSON, **header}, timeout=60)
        fuzz_counts.record(TARGET, response.status_code)
        if response.status_code != 401 or response.json().get("error") != "unauthorized":
            unexpected.append((f"Authorization {str(header)[:80]}", response.status_code, response.text[:200]))
    session.headers.update(stack.rest_headers())
    for body, headers in refused_bodies(rng):
        response = session.post(url, data=body, headers=headers, timeout=60)
        fuzz_counts.record(TARGET, response.status_code)
        if response.status_code != 400 or response.json().get("error") != "bad_request":
            unexpected.append((body[:120], response.status_code, response.text[:200]))
    # query strings (the connector's ?stream= flag and junk) on a refused body
    for text in [*ALL_TEXTS, *texts(SEED + 1, 150, 100)]:
        response = session.post(url, params={"stream": text, text: text}, data=b"[]", headers=JSON, timeout=60)
        fuzz_counts.record(TARGET, response.status_code)
        if not 400 <= response.status_code < 500:  # 400, or 413 for a URL over Sanic's limit
            unexpected.append(("?stream=" + text[:60], response.status_code, response.text[:200]))
    # wrong methods, here and on the paths around it (GET /webhooks/rest/ is the connector's health check)
    for path in (PATH, PATH + "/", "/webhooks/rest/", "/webhooks/rest/webhook/../webhook", PATH + "%00"):
        for method in ("GET", "PUT", "PATCH", "DELETE", "HEAD", "TRACE", "CONNECT", "PROPFIND", "FOO"):
            response = session.request(method, stack.rasa_url + path, data=b'{"sender":"a","message":"hi"}')
            fuzz_counts.record(TARGET, response.status_code)
            if response.status_code >= 500 or (path == PATH and response.status_code != 405):
                unexpected.append((f"{method} {path}", response.status_code, response.text[:200]))
    # broken HTTP, spoken over a plain socket
    for raw in broken_http(stack.rasa_url):
        status = raw_request(stack.rasa_url, raw)
        fuzz_counts.record(TARGET, status)
        if status.isdigit() and not 400 <= int(status) < 500:
            unexpected.append((raw[:80], status, ""))
    fuzz_counts.timed(TARGET, time.monotonic() - started)

    assert not unexpected, f"{len(unexpected)} unexpected answers, the first: {unexpected[:5]}"
    assert not tracebacks_since(stack, first_line), tracebacks_since(stack, first_line)[:3]
    assert_still_answers(stack, "fuzz-rest-after-malformed")
    assert fuzz_counts.count(TARGET) - before >= 3500


def test_hostile_text_reaches_the_bot_and_gets_an_answer(live_stack: Stack, fuzz_counts: FuzzCounts) -> None:
    stack, started, first_line = live_stack, time.monotonic(), len(live_stack.output)
    url = stack.rasa_url + PATH
    session = requests.Session()
    session.headers.update(stack.rest_headers())
    unexpected, answered = [], 0
    for message in bot_messages(random.Random(SEED + 2)):
        response = session.post(url, json=message, timeout=60)
        fuzz_counts.record(TARGET, response.status_code)
        if response.status_code == 200 and isinstance(response.json(), list):
            answered += 1
        elif response.status_code != 400 or message["message"].strip():  # only blank text may be refused
            unexpected.append((message["message"][:80], response.status_code, response.text[:200]))
    fuzz_counts.timed(TARGET, time.monotonic() - started)

    assert not unexpected, f"{len(unexpected)} unexpected answers, the first: {unexpected[:5]}"
    assert answered >= 250
    assert not tracebacks_since(stack, first_line), tracebacks_since(stack, first_line)[:3]
    # the forged identity in the metadata was not believed: the sender is still anonymous
    assert "Welcome back" not in " ".join(stack.say("fuzz-rest-1", "hi"))
    assert_still_answers(stack, "fuzz-rest-after-bot")


def broken_http(base_url: str) -> list[bytes]:
    host = urlsplit(base_url).netloc.encode()
    head = b"POST " + PATH.encode() + b" HTTP/1.1\r\nHost: " + host + b"\r\n"
    body = b'{"sender":"a","message":"hi"}'
    return [
        b"\x00\x01\x02\r\n\r\n",
        b"GARBAGE\r\n\r\n",
        b"POST " + PATH.encode() + b" HTTP/9.9\r\nHost: x\r\n\r\n",
        b"POST /" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        head + b"X-Big: " + b"h" * 200_000 + b"\r\n\r\n",
        head + b"".join(b"X-H%d: v\r\n" % i for i in range(500)) + b"\r\n",
        # a broken Content-Length (Sanic alone would hang on -1: see test_sanic_survives_a_broken_content_length...)
        head + b"Content-Length: -1\r\n\r\n" + body,
        head + b"Content-Length: abc\r\n\r\n" + body,
        head + b"Content-Length: 99999999999999999999\r\n\r\n" + body,
        head + b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
        head + b"Content-Type: application/json\r\nContent-Length: 5\r\n\r\n" + body,
        head + b"Bad Header Line\r\n\r\n",
        head + b"Content-Type: application/json\r\nX-Null: a\x00b\r\nContent-Length: 30\r\n\r\n" + body,
    ]


def raw_request(base_url: str, raw: bytes, timeout: float = 3) -> str:
    """The status code the server answers `raw` with, or a word for what it did instead."""
    parts = urlsplit(base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        try:
            sock.sendall(raw)
            sock.shutdown(socket.SHUT_WR)
            answer = sock.recv(64)
        except (ConnectionError, TimeoutError, OSError):
            return "closed"
    if not answer:
        return "closed"
    fields = answer.split(b" ", 2)
    return fields[1].decode() if len(fields) > 1 and fields[1].isdigit() else "closed"


SANIC_APP = """
import sys
import bot.rasa_patches  # what the Rasa server applies to Rasa and Sanic when it loads Hearth's code
from sanic import Sanic, response

app = Sanic("fuzz")

@app.post("/webhooks/rest/webhook")
async def webhook(request):
    return response.json({"got": len(request.body)})

app.run(host="127.0.0.1", port=int(sys.argv[1]), access_log=False, motd=False)
"""
SANIC_FAULTS = [  # (Content-Length or Transfer-Encoding header, body)
    (b"Content-Length: abc", b"{}"),  # 400 (Sanic alone: a 500)
    (b"Transfer-Encoding: chunked", b"ZZ\r\n{}\r\n0\r\n\r\n"),  # 400 (Sanic logs a traceback for it)
    (b"Content-Length: -1", b"{}"),  # 400 (Sanic alone: its event loop spins for good)
    (b"Content-Length: 2\r\nContent-Length: 3", b"{}"),  # 400: two lengths, a request smuggling attempt
]


class SanicFault(Exception):
    """Sanic answered a malformed request with a 5xx, or by no longer answering at all."""


def test_sanic_survives_a_broken_content_length_or_chunk_size(fuzz_counts: FuzzCounts, tmp_path: Path) -> None:
    """Sanic 21.12 (pinned by Rasa 3.6) answers 'Content-Length: abc' with a 500 and reads 'Content-Length: -1' as
    -1 bytes to go, spinning the Rasa server's event loop at 100 % CPU for good; bot/rasa_patches.py refuses
    both with a 400. Run on a Sanic app in the Rasa virtualenv with those patches, not on the shared stack: a
    regression would hang it."""
    port = free_port()
    script, log = tmp_path / "app.py", tmp_path / "app.log"
    script.write_text(SANIC_APP)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with log.open("w") as out:
        server = subprocess.Popen(
            [str(RASA_PY), str(script), str(port)], cwd=ROOT, env=env, stdout=out, stderr=out, start_new_session=True
        )
    try:
        base = f"http://127.0.0.1:{port}"
        assert wait_for(lambda: _answers(base), timeout=120), "the Sanic app did not start"
        faults = []
        for header, body in SANIC_FAULTS:
            head = f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode() + header + b"\r\n\r\n"
            status = raw_request(base, head + body)
            fuzz_counts.record(HTTP_FRAMING, status)
            if not status.isdigit() or int(status) >= 500:
                faults.append(f"{header!r}: {status}")
            if not _answers(base):
                faults.append(f"{header!r}: the server no longer answers a well-formed request")
                break
        if faults:
            raise SanicFault("; ".join(faults))
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)


def _answers(base: str) -> bool:
    try:
        return requests.post(base + PATH, data=b"{}", timeout=3).status_code == 200
    except requests.RequestException:
        return False
