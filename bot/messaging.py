"""Messaging apps (Telegram, Slack, Twilio SMS/WhatsApp, Facebook Messenger) through Rasa's own connectors.

Each class is Rasa's connector, with the same channel name and webhook URL
(/webhooks/<name>/webhook), plus:

- the channel's name stamped into each message's metadata on the server side (`StampedChannel`),
  so the first action of a session already knows which channel account is talking;
- an optional `api_url` credential that points the connector's API client at another server
  (a local Telegram Bot API server, a proxy, a test double) instead of the platform's own;
- fixes for what in Rasa's connector gets in the way, each said where it is made.

`python -m hearth` writes the credentials for the channels whose environment variables are set.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from aiogram.bot.api import TelegramAPIServer
from aiogram.utils.exceptions import TelegramAPIError
from fbmessenger import MessengerClient
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.facebook import FacebookInput as _FacebookInput
from rasa.core.channels.facebook import Messenger, MessengerBot
from rasa.core.channels.slack import SlackBot
from rasa.core.channels.slack import SlackInput as _SlackInput
from rasa.core.channels.telegram import TelegramInput as _TelegramInput
from rasa.core.channels.telegram import TelegramOutput
from rasa.core.channels.twilio import TwilioInput as _TwilioInput
from rasa.core.channels.twilio import TwilioOutput
from rasa.shared.exceptions import RasaException
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from slack_sdk.web.async_client import AsyncWebClient
from twilio.request_validator import RequestValidator

from bot.channels import StampedChannel

log = logging.getLogger(__name__)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


class ExtraCredentials:
    """Credential keys this project adds to a Rasa connector. Rasa's `from_credentials` passes the keys it
    knows positionally, so these are taken out first and set on the connector it builds."""

    EXTRA_KEYS: ClassVar[tuple[str, ...]] = ("api_url",)
    api_url: str | None = None

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        known = dict(credentials or {})
        extra = {key: known.pop(key, None) or None for key in cls.EXTRA_KEYS}
        channel = super().from_credentials(known)  # type: ignore[misc]
        for key, value in extra.items():
            setattr(channel, key, value)
        return channel


def _is_webhook_post(request: Request, channel: str) -> bool:
    return request.method == "POST" and request.path.rstrip("/").endswith(f"/{channel}/webhook")


class TelegramInput(StampedChannel, ExtraCredentials, _TelegramInput):
    """Rasa's Telegram connector (it calls setWebhook at start, and getMe on every update to check that the
    bot's username is `verify`). With `api_url`, the Bot API calls go to that server
    (aiogram's `TelegramAPIServer.from_base`), e.g. a local Bot API server.

    Fix: Rasa sets the webhook in a throwaway event loop (`asyncio.run`), and the aiogram Bot keeps the HTTP
    session it opened there; every later call, on the server's loop, then fails with "Event loop is closed",
    so no update gets an answer. The session is closed before that loop ends; the server's loop opens its own.
    """

    def get_output_channel(self) -> TelegramOutput:
        channel = TelegramOutput(self.access_token)
        if self.api_url:
            channel.server = TelegramAPIServer.from_base(self.api_url)

        async def set_webhook() -> None:
            try:
                await channel.set_webhook(url=self.webhook_url)
            finally:
                await channel.session.close()

        try:
            asyncio.get_running_loop()
            return channel  # asked again while serving (an agent's reply): the webhook was set at start
        except RuntimeError:
            pass  # at start, before the server's loop runs
        try:
            asyncio.run(set_webhook())
        except TelegramAPIError as error:
            raise RasaException(f"Failed to set channel webhook: {error}") from error
        return channel


class SlackInput(StampedChannel, ExtraCredentials, _SlackInput):
    """Rasa's Slack connector (Events API and interactive messages, each request checked against the signing
    secret: X-Slack-Signature / X-Slack-Request-Timestamp). With `api_url`, replies go to that Web API
    server (`AsyncWebClient(base_url=...)`)."""

    def get_output_channel(self, channel: str | None = None, thread_id: str | None = None) -> OutputChannel:
        output = super().get_output_channel(channel, thread_id)
        if self.api_url and isinstance(output, SlackBot):
            base_url = self.api_url.rstrip("/") + "/"  # the client joins method names onto it
            output.client = AsyncWebClient(self.slack_token, base_url=base_url, proxy=self.proxy)
        return output


class TwilioInput(StampedChannel, ExtraCredentials, _TwilioInput):
    """Rasa's Twilio connector (SMS and WhatsApp). With `api_url`, messages are sent through that server
    instead of https://api.twilio.com.

    Rasa's connector does not check that a webhook comes from Twilio, so anyone who knows the URL could
    write to the bot as any phone number. With `webhook_url` (the public URL configured in Twilio, which
    Twilio signs), a request without a valid X-Twilio-Signature is refused with 403 and not processed.
    Without it, the connector behaves as Rasa's and says so in a warning at start.
    """

    EXTRA_KEYS = ("api_url", "webhook_url")
    webhook_url: str | None = None

    def get_output_channel(self) -> OutputChannel:
        output = super().get_output_channel()
        if self.api_url and isinstance(output, TwilioOutput):
            output.api.base_url = self.api_url.rstrip("/")
        return output

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        blueprint = super().blueprint(on_new_message)
        if not self.webhook_url:
            log.warning(
                "twilio: no webhook_url in the credentials, so incoming webhooks are NOT checked for Twilio's "
                "signature: anyone who knows the URL can write to the bot as any phone number"
            )
            return blueprint
        validator = RequestValidator(self.auth_token or "")

        @blueprint.middleware("request")
        async def check_signature(request: Request) -> HTTPResponse | None:
            if not _is_webhook_post(request, self.name()):
                return None
            signature = request.headers.get("X-Twilio-Signature", "")
            if validator.validate(self.webhook_url, request.form, signature):
                return None
            log.warning("twilio: refused a webhook without a valid X-Twilio-Signature (from %s)", request.ip)
            return response.text("invalid X-Twilio-Signature", status=403)

        return blueprint


class FacebookInput(StampedChannel, ExtraCredentials, _FacebookInput):
    """Rasa's Facebook Messenger connector. With `api_url`, the Send API calls (replies, typing indicators)
    go to `<api_url>/v<version>/me/messages` instead of https://graph.facebook.com.

    Rasa's webhook route builds its Graph API client inside the route, where no setting reaches it, so this
    connector answers POST /webhook itself (a request middleware), as Rasa does otherwise. Fixes on the way:
    a request whose X-Hub-Signature is not the HMAC-SHA1 of the body with the app secret gets 403 (Rasa
    answers 200 "not validated"), and a malformed header ("foo=bar") is refused instead of raising (500).
    """

    def graph_client(self) -> MessengerClient:
        client = MessengerClient(self.fb_access_token)
        if self.api_url:
            client.graph_url = f"{self.api_url.rstrip('/')}/v{client.api_version}"
        return client

    def get_output_channel(self) -> OutputChannel:
        return MessengerBot(self.graph_client())

    @staticmethod
    def validate_hub_signature(app_secret: str, request_payload: bytes, hub_signature_header: str) -> bool:
        method, _, signature = hub_signature_header.partition("=")
        expected = hmac.new(app_secret.encode(), request_payload, hashlib.sha1).hexdigest()
        return method == "sha1" and hmac.compare_digest(expected.encode(), signature.encode())

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        blueprint = super().blueprint(on_new_message)

        @blueprint.middleware("request")
        async def webhook(request: Request) -> HTTPResponse | None:
            if not _is_webhook_post(request, self.name()):
                return None
            signature = request.headers.get("X-Hub-Signature") or ""
            if not self.validate_hub_signature(self.fb_secret, request.body, signature):
                log.warning("facebook: refused a webhook whose X-Hub-Signature does not match the app secret")
                return response.text("not validated", status=403)
            messenger = Messenger(self.fb_access_token, on_new_message)
            messenger.client = self.graph_client()
            await messenger.handle(request.json, self.server_metadata(self.get_metadata(request)))
            return response.text("success")

        return blueprint
