"""The Rasa server's HTTP API, as the agent console uses it (requests; Rasa runs with --enable-api and a JWT key).

- Each request carries `Authorization: Bearer <JWT>`: HS256, signed with the key the Rasa server checks
  (RASA_API_TOKEN, bot/run_rasa.py), for Rasa's admin role (any conversation), valid for 60 seconds. The key
  itself never leaves the process: not in a URL (access logs keep those), not in a header.

- An agent's reply is appended to the conversation as a bot message with the agent's name in its metadata,
  and Rasa sends it through the channel the customer is on (`execute_side_effects`, `output_channel`): web
  chat and the messaging apps receive it at once; a REST caller reads it from the conversation.
- An agent who steps into a conversation the bot is having pauses the bot and tells the customer.
- Handing back resumes the paused bot and runs `action_handback`, which speaks to the customer again.
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import jwt
import requests

from crm_adapter.domain import CrmUnavailable


class RasaUnavailable(CrmUnavailable):
    """The Rasa server could not be reached or refused the request."""


JWT_ALGORITHM = "HS256"  # what the Rasa server checks (bot/run_rasa.py: --jwt-method)
JWT_LIFETIME = 60  # seconds; a fresh token per request
JWT_USER = {"username": "hearth-console", "role": "admin"}  # Rasa's admin role: any conversation


class RasaConversations:
    def __init__(
        self,
        base_url: str,
        token: str,
        timeout: float = 10,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.base_url = base_url.rstrip("/")
        self._key = token  # RASA_API_TOKEN: signs the JWTs, is never sent
        self.timeout = timeout
        self.http = session or requests.Session()
        self.clock = clock

    def authorization(self) -> str:
        """The Authorization header of one request: a JWT made now, valid for JWT_LIFETIME seconds."""
        now = int(self.clock())
        claims = {"user": JWT_USER, "iat": now, "exp": now + JWT_LIFETIME}
        return "Bearer " + jwt.encode(claims, self._key, algorithm=JWT_ALGORITHM)

    def _post(self, sender_id: str, path: str, body: Any, **params: str) -> Any:
        url = f"{self.base_url}/conversations/{urllib.parse.quote(sender_id, safe='')}/{path}"
        headers = {"Authorization": self.authorization()}
        try:
            response = self.http.post(url, json=body, params=params, headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            raise RasaUnavailable(f"Rasa server unreachable: {type(exc).__name__}") from exc
        if response.status_code >= 300:
            raise RasaUnavailable(f"Rasa server answered HTTP {response.status_code}: {response.text[:200]}")
        return response.json()

    def send_as_agent(self, sender_id: str, channel: str, text: str, agent_name: str, agent_id: int) -> None:
        """Say `text` to the customer as the agent, through their channel, and record it in the conversation."""
        event = {"event": "bot", "text": text, "metadata": {"agent": agent_name, "agent_id": agent_id}}
        self._post(sender_id, "tracker/events", [event], execute_side_effects="true", output_channel=channel)

    def join(self, sender_id: str, channel: str, agent_name: str, agent_id: int) -> str:
        """An agent steps into a conversation the bot is having: the bot pauses (as for a handoff) and the customer
        is told, through their channel, that a person has joined. Returns what the customer was told."""
        text = f"{agent_name} from our team has joined the conversation and will take it from here."
        events = [
            {"event": "pause"},
            {"event": "bot", "text": text, "metadata": {"agent": agent_name, "agent_id": agent_id}},
        ]
        self._post(sender_id, "tracker/events", events, execute_side_effects="true", output_channel=channel)
        return text

    def hand_back(self, sender_id: str, channel: str, agent_name: str, outcome: str) -> None:
        """Resume the bot (it was paused while the agent talked) and let it speak again (`action_handback`)."""
        events = [
            {"event": "resume"},
            {"event": "slot", "name": "handoff_agent", "value": agent_name},
            {"event": "slot", "name": "handoff_outcome", "value": outcome},
        ]
        self._post(sender_id, "tracker/events", events)
        self._post(sender_id, "execute", {"name": "action_handback"}, output_channel=channel)
