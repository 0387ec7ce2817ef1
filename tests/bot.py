"""Build rasa-sdk trackers and the domain dict the way the Rasa server sends them, and run actions."""

from __future__ import annotations

import asyncio
from functools import lru_cache
from pathlib import Path
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parent.parent


@lru_cache(maxsize=1)
def domain() -> dict[str, Any]:
    """bot/domain/*.yml merged, as a DomainDict."""
    merged: dict[str, Any] = {"intents": [], "entities": [], "slots": {}, "forms": {}, "responses": {}, "actions": []}
    for path in sorted((ROOT / "bot" / "domain").glob("*.yml")):
        part = YAML(typ="safe").load(path.read_text()) or {}
        for key in ("intents", "entities", "actions"):
            merged[key] += part.get(key, [])
        for key in ("slots", "forms", "responses"):
            merged[key].update(part.get(key, {}))
    return merged


def tracker(
    slots: dict[str, Any] | None = None,
    text: str = "",
    intent: str = "inform",
    entities: list[tuple[str, str]] | None = None,
    sender_id: str = "sender-1",
    channel: str = "rest",
    active_loop: str | None = None,
    events: list[dict[str, Any]] | None = None,
    mapped: dict[str, Any] | None = None,
    sender_proven: bool = False,
) -> Tracker:
    """A tracker whose latest event is the user's message; `mapped` are slots Rasa's mappings set from it.
    `sender_proven`: the connector vouched for the sender id (bot/channels.py), as a messaging app's does."""
    all_slots = {name: spec.get("initial_value") for name, spec in domain()["slots"].items()}
    all_slots["requested_slot"] = None
    stamped: dict[str, Any] = {"channel": channel, **({"sender_proven": True} if sender_proven else {})}
    all_slots["session_started_metadata"] = stamped
    all_slots.update(slots or {})
    all_slots.update(mapped or {})
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.95},
        "entities": [{"entity": e, "value": v} for e, v in (entities or [])],
        "metadata": dict(stamped),
    }
    user_event = {"event": "user", "text": text, "parse_data": latest, "input_channel": channel}
    return Tracker(
        sender_id=sender_id,
        slots=all_slots,
        latest_message=latest,
        events=(events or [])
        + [user_event]
        + [{"event": "slot", "name": k, "value": v} for k, v in (mapped or {}).items()],
        paused=False,
        followup_action=None,
        active_loop={"name": active_loop} if active_loop else {},
        latest_action_name="action_listen",
    )


def run(action: Action, t: Tracker) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Run an action as the action server would; returns (events, messages sent)."""
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, t, domain()))
    return events, dispatcher.messages


def responses(messages: list[dict[str, Any]]) -> list[str]:
    return [m["response"] for m in messages]


def slots_set(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
