"""Local stand-ins for the messaging platforms' APIs, and the webhooks those platforms send.

`FakeMessagingApis` is one HTTP server (standard library, in a thread) that answers enough of the
Telegram Bot API, the Slack Web API, Twilio's REST API and Facebook's Graph API for Rasa's connectors:
each API under its own prefix (`api_url("slack")` is what SLACK_API_URL gets). It checks each
platform's credentials as the platform would, answers with the JSON the client library parses, and
records every call, so a test can read what the bot sent to whom (`sent_texts`).

The `*_message` / `*_button` builders make the inbound webhook requests exactly as each platform
sends them, signed the way each platform signs them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

APIS = ("telegram", "slack", "twilio", "facebook")


@dataclass(frozen=True)
class Accounts:
    """The bot's accounts on each platform (all made up, in each platform's format)."""

    telegram_token: str = "123456789:AAHfakeTokenForHearthTests_0123456789"
    telegram_bot_name: str = "hearth_test_bot"
    slack_token: str = "xoxb-1111111111-2222222222-fakeslacktokenhearth"
    slack_signing_secret: str = "8f742231b10e8888abcd99yyyzzz85a5"
    slack_bot_user: str = "U0HEARTHBOT"
    twilio_account_sid: str = "AC" + "0123456789abcdef" * 2
    twilio_auth_token: str = "fake-twilio-auth-token-0123456789"
    twilio_number: str = "whatsapp:+14155238886"
    facebook_verify: str = "hearth-verify-token"
    facebook_secret: str = "fake-facebook-app-secret"
    facebook_page_token: str = "EAAfakePageAccessTokenForHearth"
    facebook_page_id: str = "104560000000001"


@dataclass
class Call:
    """One request the bot made to a platform's API."""

    api: str  # telegram | slack | twilio | facebook
    method: str  # GET, POST, ...
    path: str  # below the API's prefix, e.g. "/bot<token>/sendMessage" or "/chat.postMessage"
    query: dict[str, str]
    body: dict[str, Any]
    headers: dict[str, str] = field(repr=False)
    status: int = 0  # what the fake answered
    answer: dict[str, Any] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        """Whether the platform would have done it (Slack reports errors with 200 and "ok": false)."""
        return 200 <= self.status < 300 and self.answer.get("ok", True) is not False


class FakeMessagingApis:
    """The four platforms' APIs on one local port; start with `running_fake_apis()`."""

    def __init__(self, accounts: Accounts) -> None:
        self.accounts = accounts
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1000)
        handler = type("Handler", (_Handler,), {"fake": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def api_url(self, api: str) -> str:
        """What the connector's `api_url` credential gets for `api` (Slack's client wants a trailing slash)."""
        assert api in APIS, api
        return f"{self.url}/{api}/api/" if api == "slack" else f"{self.url}/{api}"

    # ---- what the bot did ----------------------------------------------------------

    def calls_to(self, api: str, endpoint: str | None = None) -> list[Call]:
        """The calls to `api`, optionally only those whose path ends with `endpoint` (e.g. "sendMessage")."""
        with self._lock:
            return [c for c in self.calls if c.api == api and (endpoint is None or c.path.endswith(endpoint))]

    def messages_to(self, api: str, recipient: str | int) -> list[Call]:
        """The accepted calls that sent `recipient` a message on `api`, in order (not typing indicators)."""
        recipient = str(recipient)
        if api == "telegram":
            calls = [c for c in self.calls_to(api, "/sendMessage") if c.body.get("chat_id") == recipient]
        elif api == "slack":
            calls = [c for c in self.calls_to(api, "/chat.postMessage") if c.body.get("channel") == recipient]
        elif api == "twilio":
            calls = [c for c in self.calls_to(api, "/Messages.json") if c.body.get("To") == recipient]
        else:
            calls = [
                c
                for c in self.calls_to(api, "/me/messages")
                if c.body.get("recipient", {}).get("id") == recipient and "message" in c.body
            ]
        return [c for c in calls if c.accepted]

    def sent(self, api: str, recipient: str | int) -> list[dict[str, Any]]:
        """The bodies of the messages the bot sent to `recipient` on `api`, in order."""
        return [c.body for c in self.messages_to(api, recipient)]

    def sent_texts(self, api: str, recipient: str | int) -> list[str]:
        """The texts the bot sent to `recipient` on `api` (a Messenger button template's text included)."""
        texts = []
        for body in self.sent(api, recipient):
            if api == "twilio":
                texts.append(body.get("Body", ""))
            elif api == "facebook":
                message = body["message"]
                texts.append(message.get("text") or message.get("attachment", {}).get("payload", {}).get("text", ""))
            else:
                texts.append(body.get("text", ""))
        return texts

    def wait_for_texts(self, api: str, recipient: str | int, count: int = 1, timeout: float = 30) -> list[str]:
        """`sent_texts` once at least `count` texts are there (or the timeout passed)."""
        deadline = time.monotonic() + timeout
        while len(texts := self.sent_texts(api, recipient)) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        return texts

    # ---- the four APIs -------------------------------------------------------------

    def answer(self, call: Call) -> tuple[int, dict[str, Any]]:
        return getattr(self, f"_{call.api}")(call)

    def _telegram(self, call: Call) -> tuple[int, dict[str, Any]]:
        token, _, method = call.path.removeprefix("/bot").partition("/")
        if token != self.accounts.telegram_token:
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        bot = {
            "id": int(token.split(":")[0]),
            "is_bot": True,
            "first_name": "Juno",
            "username": self.accounts.telegram_bot_name,
        }
        if method == "getMe":
            return 200, {"ok": True, "result": {**bot, "can_join_groups": True, "supports_inline_queries": False}}
        if method in ("setWebhook", "deleteWebhook"):
            return 200, {"ok": True, "result": True, "description": "Webhook was set"}
        if method in ("answerCallbackQuery", "sendChatAction"):
            return 200, {"ok": True, "result": True}
        if method == "sendMessage":
            if not call.body.get("chat_id") or not call.body.get("text"):
                return 400, {"ok": False, "error_code": 400, "description": "Bad Request: message text is empty"}
            chat_id = int(call.body["chat_id"])
            result: dict[str, Any] = {
                "message_id": next(self._ids),
                "from": bot,
                "chat": {"id": chat_id, "first_name": "Customer", "type": "private"},
                "date": int(time.time()),
                "text": call.body["text"],
            }
            if call.body.get("reply_markup"):
                result["reply_markup"] = json.loads(call.body["reply_markup"])
            return 200, {"ok": True, "result": result}
        return 404, {"ok": False, "error_code": 404, "description": "Not Found"}

    def _slack(self, call: Call) -> tuple[int, dict[str, Any]]:
        if call.headers.get("authorization") != f"Bearer {self.accounts.slack_token}":
            return 200, {"ok": False, "error": "invalid_auth"}
        method = call.path.strip("/")
        if method == "auth.test":
            return 200, {"ok": True, "user_id": self.accounts.slack_bot_user, "bot_id": "B0HEARTH", "team_id": "T0TEAM"}
        if method == "chat.postMessage":
            if not call.body.get("channel"):
                return 200, {"ok": False, "error": "channel_not_found"}
            ts = f"{time.time():.6f}"
            message = {
                "type": "message",
                "subtype": "bot_message",
                "text": call.body.get("text", ""),
                "ts": ts,
                "user": self.accounts.slack_bot_user,
                "bot_id": "B0HEARTH",
            }
            if call.body.get("blocks"):
                message["blocks"] = call.body["blocks"]
            return 200, {"ok": True, "channel": call.body["channel"], "ts": ts, "message": message}
        return 200, {"ok": False, "error": "unknown_method"}

    def _twilio(self, call: Call) -> tuple[int, dict[str, Any]]:
        sid, token = self.accounts.twilio_account_sid, self.accounts.twilio_auth_token
        expected = "Basic " + base64.b64encode(f"{sid}:{token}".encode()).decode()
        if call.headers.get("authorization") != expected:
            return 401, {
                "code": 20003,
                "message": "Authenticate",
                "more_info": "https://www.twilio.com/docs/errors/20003",
                "status": 401,
            }
        if call.method == "POST" and call.path == f"/2010-04-01/Accounts/{sid}/Messages.json":
            if not call.body.get("To") or not (call.body.get("Body") or call.body.get("MediaUrl")):
                return 400, {"code": 21602, "message": "Message body is required.", "status": 400}
            message_sid = "SM" + uuid.uuid4().hex
            now = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
            return 201, {
                "account_sid": sid,
                "api_version": "2010-04-01",
                "body": call.body.get("Body", ""),
                "date_created": now,
                "date_sent": None,
                "date_updated": now,
                "direction": "outbound-api",
                "error_code": None,
                "error_message": None,
                "from": call.body.get("From"),
                "messaging_service_sid": None,
                "num_media": "0",
                "num_segments": "1",
                "price": None,
                "price_unit": "USD",
                "sid": message_sid,
                "status": "queued",
                "subresource_uris": {"media": f"/2010-04-01/Accounts/{sid}/Messages/{message_sid}/Media.json"},
                "to": call.body["To"],
                "uri": f"/2010-04-01/Accounts/{sid}/Messages/{message_sid}.json",
            }
        return 404, {"code": 20404, "message": "The requested resource was not found", "status": 404}

    def _facebook(self, call: Call) -> tuple[int, dict[str, Any]]:
        if call.query.get("access_token") != self.accounts.facebook_page_token:
            return 400, {
                "error": {
                    "message": "Invalid OAuth access token - Cannot parse access token",
                    "type": "OAuthException",
                    "code": 190,
                    "fbtrace_id": "AbCdEfGhIjK",
                }
            }
        version, _, rest = call.path.strip("/").partition("/")
        if call.method == "POST" and version.startswith("v") and rest == "me/messages":
            recipient = call.body.get("recipient", {}).get("id")
            if not recipient:
                return 400, {"error": {"message": "(#100) The parameter recipient is required", "code": 100}}
            if "sender_action" in call.body:
                return 200, {"recipient_id": recipient}
            return 200, {"recipient_id": recipient, "message_id": "m_" + uuid.uuid4().hex}
        return 400, {"error": {"message": "Unsupported request", "type": "GraphMethodException", "code": 100}}


class _Handler(BaseHTTPRequestHandler):
    fake: FakeMessagingApis
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _handle(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        api, _, rest = url.path.lstrip("/").partition("/")
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if api not in APIS:
            self._reply(404, {"error": f"no API at {url.path}"})
            return
        if api == "slack":
            rest = rest.removeprefix("api")
        call = Call(
            api=api,
            method=self.command,
            path="/" + rest.lstrip("/"),
            query=dict(urllib.parse.parse_qsl(url.query)),
            body=_parse_body(self.headers.get("Content-Type", ""), raw),
            headers={k.lower(): v for k, v in self.headers.items()},
        )
        call.status, call.answer = self.fake.answer(call)
        with self.fake._lock:
            self.fake.calls.append(call)
        self._reply(call.status, call.answer)

    def _reply(self, status: int, answer: dict[str, Any]) -> None:
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass


def _parse_body(content_type: str, raw: bytes) -> dict[str, Any]:
    if not raw:
        return {}
    if content_type.startswith("application/json"):
        parsed = json.loads(raw)
        return parsed if isinstance(parsed, dict) else {"json": parsed}
    if content_type.startswith("application/x-www-form-urlencoded"):
        return dict(urllib.parse.parse_qsl(raw.decode(), keep_blank_values=True))
    return {"raw": raw.decode(errors="replace")}


@contextmanager
def running_fake_apis(accounts: Accounts | None = None) -> Iterator[FakeMessagingApis]:
    fake = FakeMessagingApis(accounts or Accounts())
    thread = threading.Thread(target=fake.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.server.shutdown()
        fake.server.server_close()
        thread.join(timeout=10)


# ---- inbound webhooks, as each platform sends them ---------------------------------------------


@dataclass(frozen=True)
class Webhook:
    """A request a platform makes to the bot's webhook: where, what, and with which headers."""

    path: str
    body: bytes
    headers: dict[str, str]

    def post(self, base_url: str, **header_changes: str | None) -> requests.Response:
        """POST it to the bot at `base_url`; `header_changes` replace headers (None drops one; `_` for `-`)."""
        headers = dict(self.headers)
        for name, value in header_changes.items():
            headers.pop(name.replace("_", "-"), None)
            if value is not None:
                headers[name.replace("_", "-")] = value
        return requests.post(base_url + self.path, data=self.body, headers=headers, timeout=60)


_update_ids = itertools.count(700_000_000)


def _telegram_user(chat_id: int, first_name: str) -> dict[str, Any]:
    return {"id": chat_id, "is_bot": False, "first_name": first_name, "language_code": "en"}


def telegram_message(chat_id: int, text: str, first_name: str = "Customer") -> Webhook:
    """An Update with a private-chat text message (chat id = user id, as in a private chat)."""
    update = {
        "update_id": next(_update_ids),
        "message": {
            "message_id": next(_update_ids) % 100_000,
            "from": _telegram_user(chat_id, first_name),
            "chat": {"id": chat_id, "first_name": first_name, "type": "private"},
            "date": int(time.time()),
            "text": text,
        },
    }
    return Webhook("/webhooks/telegram/webhook", json.dumps(update).encode(), {"Content-Type": "application/json"})


def telegram_button(chat_id: int, data: str, bot_message: dict[str, Any], first_name: str = "Customer") -> Webhook:
    """An Update for a press on an inline keyboard button under `bot_message` (the Message the bot sent)."""
    update = {
        "update_id": next(_update_ids),
        "callback_query": {
            "id": str(next(_update_ids) * 1000 + 17),
            "from": _telegram_user(chat_id, first_name),
            "message": bot_message,
            "chat_instance": "-4561237890123456789",
            "data": data,
        },
    }
    return Webhook("/webhooks/telegram/webhook", json.dumps(update).encode(), {"Content-Type": "application/json"})


def slack_message(accounts: Accounts, user: str, channel: str, text: str, timestamp: int | None = None) -> Webhook:
    """An Events API `event_callback` for a direct message to the bot, signed with the signing secret (v0)."""
    now = int(time.time()) if timestamp is None else timestamp
    ts = f"{now}.{next(_update_ids) % 1_000_000:06d}"
    payload = {
        "token": "ZZZZZZWSxiZZZ2yIvs3peJ",
        "team_id": "T0TEAM",
        "api_app_id": "A0HEARTH",
        "event": {
            "client_msg_id": str(uuid.uuid4()),
            "type": "message",
            "text": text,
            "user": user,
            "ts": ts,
            "team": "T0TEAM",
            "channel": channel,
            "event_ts": ts,
            "channel_type": "im",
        },
        "type": "event_callback",
        "event_id": "Ev" + uuid.uuid4().hex[:10].upper(),
        "event_time": now,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": "T0TEAM",
                "user_id": accounts.slack_bot_user,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }
    body = json.dumps(payload).encode()
    basestring = f"v0:{now}:".encode() + body
    signature = "v0=" + hmac.new(accounts.slack_signing_secret.encode(), basestring, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": str(now),
        "X-Slack-Signature": signature,
        "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
    }
    return Webhook("/webhooks/slack/webhook", body, headers)


def twilio_signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    """X-Twilio-Signature: base64 HMAC-SHA1 of the URL followed by each POST field's name and value, by name."""
    signed = url + "".join(name + params[name] for name in sorted(params))
    return base64.b64encode(hmac.new(auth_token.encode(), signed.encode(), hashlib.sha1).digest()).decode()


def twilio_message(accounts: Accounts, webhook_url: str, sender: str, text: str) -> Webhook:
    """An incoming WhatsApp message as Twilio posts it (form-encoded), signed for `webhook_url`."""
    message_sid = "SM" + uuid.uuid4().hex
    params = {
        "SmsMessageSid": message_sid,
        "NumMedia": "0",
        "ProfileName": "Customer",
        "MessageType": "text",
        "SmsSid": message_sid,
        "WaId": sender.removeprefix("whatsapp:+"),
        "SmsStatus": "received",
        "Body": text,
        "To": accounts.twilio_number,
        "NumSegments": "1",
        "ReferralNumMedia": "0",
        "MessageSid": message_sid,
        "AccountSid": accounts.twilio_account_sid,
        "From": sender,
        "ApiVersion": "2010-04-01",
    }
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": twilio_signature(accounts.twilio_auth_token, webhook_url, params),
        "I-Twilio-Idempotency-Token": str(uuid.uuid4()),
        "User-Agent": "TwilioProxy/1.1",
    }
    return Webhook("/webhooks/twilio/webhook", urllib.parse.urlencode(params).encode(), headers)


def messenger_message(accounts: Accounts, psid: str, text: str) -> Webhook:
    """A Messenger webhook event for a text message from `psid` to the page, signed with the app secret."""
    now_ms = int(time.time() * 1000)
    page = accounts.facebook_page_id
    payload = {
        "object": "page",
        "entry": [
            {
                "id": page,
                "time": now_ms,
                "messaging": [
                    {
                        "sender": {"id": psid},
                        "recipient": {"id": page},
                        "timestamp": now_ms,
                        "message": {"mid": "m_" + uuid.uuid4().hex, "text": text},
                    }
                ],
            }
        ],
    }
    body = json.dumps(payload).encode()
    secret = accounts.facebook_secret.encode()
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature": "sha1=" + hmac.new(secret, body, hashlib.sha1).hexdigest(),
        "X-Hub-Signature-256": "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest(),
        "User-Agent": "facebookexternalua",
    }
    return Webhook("/webhooks/facebook/webhook", body, headers)
