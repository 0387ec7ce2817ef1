"""One session, one party: a conversation session stays with the channel, the website identity and the REST
integration it began with.

Rasa keys a conversation by its sender id alone, whatever channel a message arrives on, and keeps the
session's slots (who the customer is, that they are verified) until the session expires. Sender ids are not
secrets: a REST caller and the web chat widget choose their own (the widget's session id), and a messaging
app's is a chat id or a phone number. Without this, a web chat message sent with a WhatsApp customer's
number as its session id would continue that customer's verified session, and a visitor reusing a
signed-in visitor's session id (without their token, or with someone else's) would be served as them.

The connectors stamp every message with its channel, the identity they checked and, for REST, the integration
that authenticated (bot/channels.py). When a message's channel, the website customer its token proves, or its
REST integration differs from the ones the current session
started with (the `session_started_metadata` slot), a new session starts with the message's metadata, as
if the old one had expired: `action_session_start` recognises whoever the new message proves to be
(nobody, for an unproven claim), and no slot of the earlier session carries over
(`carry_over_slots_to_new_session: false`). Calls without a stamped channel (Rasa's HTTP API: an agent's
reply, a hand-back) leave the session as it is.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa.core.actions.action import ActionRestart
from rasa.core.policies.policy import PolicyPrediction
from rasa.core.processor import MessageProcessor
from rasa.shared.core.constants import ACTION_SESSION_START_NAME, SESSION_START_METADATA_SLOT
from rasa.shared.core.events import SlotSet

log = logging.getLogger(__name__)

_update_tracker_session = MessageProcessor._update_tracker_session


def party(metadata: Any) -> tuple[str, str | None, str | None] | None:
    """(channel, website customer id or None, REST integration or None) of a message stamped by a connector;
    None when not stamped."""
    if not isinstance(metadata, dict) or not isinstance(metadata.get("channel"), str):
        return None
    identity = metadata.get("identity")
    customer_id = identity.get("customer_id") if isinstance(identity, dict) else None
    client = metadata.get("rest_client")
    return (
        metadata["channel"],
        customer_id if isinstance(customer_id, str) else None,
        client if isinstance(client, str) else None,
    )


def changed_hands(session_metadata: Any, message_metadata: Any) -> bool:
    """Whether a message comes from another party than the one the session started with."""
    incoming, started = party(message_metadata), party(session_metadata)
    return incoming is not None and started is not None and incoming != started


async def _bound_tracker_session(
    self: MessageProcessor, tracker: Any, output_channel: Any, metadata: dict[str, Any] | None = None
) -> None:
    # the slot comparison first: it is cheap, while applied_events() walks the whole conversation
    if not changed_hands(tracker.get_slot(SESSION_START_METADATA_SLOT), metadata) or not tracker.applied_events():
        await _update_tracker_session(self, tracker, output_channel, metadata)
        return
    log.warning(
        "a message on another channel or from another website identity than conversation %s started with: "
        "it gets a new session, and nothing of the earlier one",
        tracker.sender_id,
    )
    tracker.update(SlotSet(SESSION_START_METADATA_SLOT, metadata), self.domain)
    await self._run_action(
        action=self._get_action(ACTION_SESSION_START_NAME),
        tracker=tracker,
        output_channel=output_channel,
        nlg=self.nlg,
        prediction=PolicyPrediction.for_action_name(self.domain, ACTION_SESSION_START_NAME),
    )


_restart_run = ActionRestart.run


async def _restart_keeping_the_party(self: ActionRestart, output_channel: Any, nlg: Any, tracker: Any, domain: Any):
    # After "/restart" Rasa starts the next session itself (action_session_start, predicted after action_restart)
    # without the message's metadata: carry the connector's stamp of the "/restart" over the restart, so the new
    # session knows its channel and whether the sender id is proven, like a session started by a message.
    events = await _restart_run(self, output_channel, nlg, tracker, domain)
    metadata = tracker.latest_message.metadata if tracker.latest_message else None
    if party(metadata) is not None:
        events.append(SlotSet(SESSION_START_METADATA_SLOT, metadata))
    return events


def install() -> None:
    MessageProcessor._update_tracker_session = _bound_tracker_session  # type: ignore[method-assign]
    ActionRestart.run = _restart_keeping_the_party  # type: ignore[method-assign]
