"""Checks of bot/tracker_store.py and bot/rasa_patches.py, run inside the Rasa virtualenv.

Run by tests/integration/test_rasa_side.py (`.venvs/rasa/bin/python tests/rasa_side/check_tracker_store.py DB_URL`);
each check raises AssertionError with a message, and the script prints "ok" when all pass.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, BotUttered, SlotSet, UserUttered

from bot.tracker_store import WindowedSQLTrackerStore

DOMAIN = Domain.load("bot/domain")


def turn(n: int, *extra: object) -> list[object]:
    return [
        UserUttered(f"message {n}", {"name": "faq", "confidence": 0.9}),
        *extra,
        ActionExecuted("utter_faq"),
        BotUttered(f"answer {n}", metadata={"utter_action": "utter_faq"}),
        ActionExecuted("action_listen"),
    ]


async def checks(url: str) -> None:
    server_a = WindowedSQLTrackerStore(domain=DOMAIN, host=url, window_turns=5)
    server_b = WindowedSQLTrackerStore(domain=DOMAIN, host=url, window_turns=5)

    # A new conversation: everything is stored.
    tracker = await server_a.get_or_create_tracker("c1")
    for n in range(3):
        for event in turn(n):
            tracker.update(event)
    await server_a.save(tracker)

    # Forty more turns, each read back and saved the way Rasa's processor does.
    for n in range(3, 43):
        tracker = await server_a.retrieve("c1")
        assert tracker is not None
        extra = []
        if n == 7:
            extra = [SlotSet("customer_id", "cus_1"), SlotSet("verified", True)]
        if n == 9:
            extra = [ActiveLoop("order_status_form"), SlotSet("requested_slot", "order_number")]
        for event in turn(n, *extra):
            tracker.update(event)
        await server_a.save(tracker)
        window_users = sum(isinstance(e, UserUttered) for e in tracker.events)
        assert window_users <= 2 * 5 + 1, f"turn {n}: the tracker holds {window_users} turns"

    full = await server_a.retrieve_full_tracker("c1")
    assert full is not None
    texts = [e.text for e in full.events if isinstance(e, UserUttered)]
    assert texts == [f"message {n}" for n in range(43)], "the database must hold every turn, in order"

    windowed = await server_a.retrieve("c1")
    assert windowed is not None
    assert windowed.get_slot("customer_id") == "cus_1", "a slot set before the window keeps its value"
    assert windowed.get_slot("verified") is True
    assert windowed.active_loop_name == "order_status_form", "the active form survives the window"
    assert windowed.latest_message.text == "message 42"
    assert windowed.current_slot_values() == full.current_slot_values()

    # Another Rasa server writes to the same conversation: server A must notice and reload.
    other = await server_b.retrieve("c1")
    assert other is not None
    for event in turn(43, SlotSet("customer_first_name", "Anna")):
        other.update(event)
    await server_b.save(other)
    seen_by_a = await server_a.retrieve("c1")
    assert seen_by_a is not None and seen_by_a.latest_message.text == "message 43"
    assert seen_by_a.get_slot("customer_first_name") == "Anna"
    stored = await server_a.retrieve_full_tracker("c1")
    assert stored is not None
    assert [e.text for e in stored.events if isinstance(e, UserUttered)][-2:] == ["message 42", "message 43"]
    assert sum(1 for e in stored.events if isinstance(e, UserUttered)) == 44, "nothing written twice"


def check_action_response_validation() -> None:
    from jsonschema import ValidationError
    from rasa.core.actions.action import RemoteAction
    from rasa.utils.endpoints import EndpointConfig

    action = RemoteAction("action_x", EndpointConfig("http://localhost:1"))
    assert action._validate_action_result({"events": [{"event": "slot", "name": "a", "value": 1}], "responses": []})
    try:
        action._validate_action_result({"events": [{"event": 42}], "responses": []})
    except ValidationError as error:
        assert "Failed to validate Action server response" in error.message
    else:
        raise AssertionError("an invalid action server response must be refused")
    # the same verdicts as Rasa's own `jsonschema.validate` (an event checked against its own type's schema only)
    from jsonschema import validate

    schema = RemoteAction.action_response_format_spec()
    cases = [
        {"events": [{"event": "slot", "timestamp": None, "name": "a", "value": "x"}, {"event": "bot", "text": "hi"}]},
        {"events": [{"event": "slot"}]},  # no name
        {"events": [{"event": "slot", "name": "a", "value": 1, "timestamp": "noon"}]},
        {"events": [{"event": "user", "text": 5}]},
        {"events": [{"event": "not_an_event"}]},
        {"events": [{"name": "a"}]},
        {"events": "x"},
        {"events": [{"event": "followup", "name": "utter_x"}, {"event": "reset_slots"}]},
        {"responses": [{"text": "hi"}]},
    ]
    for case in cases:
        verdicts = []
        for check in (lambda c: validate(c, schema), lambda c: action._validate_action_result(c)):
            try:
                check(case)
                verdicts.append(True)
            except ValidationError:
                verdicts.append(False)
        assert verdicts[0] == verdicts[1], (case, verdicts)


def check_kept_states() -> None:
    """The featurizer's remembered states are the ones Rasa computes, for both of RulePolicy's calls, and a tracker
    that changed (a new event) is featurized again."""
    from rasa.core.featurizers.tracker_featurizers import MaxHistoryTrackerFeaturizer, TrackerFeaturizer
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot import rasa_patches

    featurizer = MaxHistoryTrackerFeaturizer(max_history=None)
    tracker = DialogueStateTracker.from_events("states", [ActionExecuted("action_listen")], slots=DOMAIN.slots)
    rule_only = {"slots": [], "loops": []}

    def states(use_text: bool) -> list[object]:
        return featurizer.prediction_states([tracker], DOMAIN, use_text, rule_only_data=rule_only)[0]

    def rasas_own(use_text: bool) -> list[object]:
        TrackerFeaturizer._create_states = staticmethod(rasa_patches._create_states)  # type: ignore[method-assign]
        try:
            return states(use_text)
        finally:
            TrackerFeaturizer._create_states = staticmethod(rasa_patches._kept_states)  # type: ignore[method-assign]

    for n in range(4):
        for event in turn(n, SlotSet("customer_id", f"c-{n}")):
            tracker.update(event)
            for use_text in (True, False, True):
                assert states(use_text) == rasas_own(use_text), (n, event, use_text)
    assert any(entry[0] is tracker for entry in rasa_patches._states_made), "the states were not remembered"


def check_copies_only_for_debug_lines() -> None:
    """The policies' debug-only deep copies are made when debug lines are logged, and skipped when not."""
    import logging

    from rasa.core.policies import memoization, rule_policy
    from rasa.utils.log_utils import configure_structlog

    import bot.rasa_patches  # noqa: F401

    states = [{"user": {"intent": "greet"}}]
    configure_structlog(logging.INFO)
    assert rule_policy.copy.deepcopy(states) is states and memoization.copy.deepcopy(states) is states
    configure_structlog(logging.DEBUG)
    copied = rule_policy.copy.deepcopy(states)
    assert copied == states and copied is not states and copied[0]["user"] is not states[0]["user"]
    configure_structlog(logging.INFO)


def check_graph_evaluation() -> None:
    """bot/rasa_patches.py runs Rasa's task graphs without dask: the same results as dask.get, each task run once
    (a node two others need included) and only if a target needs it, a component's error passed on."""
    import dask

    from bot.rasa_patches import _evaluate

    calls: list[str] = []

    def node(name: str) -> Any:
        def run(*inputs: Any) -> tuple[str, Any]:
            calls.append(name)
            return name, [name, *inputs]

        return run

    graph: dict[str, Any] = {
        "__message__": ("__message__", {"text": "hi"}),  # an input, as DaskGraphRunner adds them
        "tokens": (node("tokens"), "__message__"),
        "words": (node("words"), "tokens"),
        "chars": (node("chars"), "tokens"),
        "intent": (node("intent"), "words", "chars", "__message__"),
        "unused": (node("unused"), "tokens"),
        "named": (node("named"), "not a node"),  # a name that is no task is passed as it is, as dask does
    }
    for targets in (["intent"], ["intent", "words"], ["named", "tokens"]):
        calls.clear()
        ours = _evaluate(graph, targets)
        ran = list(calls)
        calls.clear()
        assert ours == list(dask.get(graph, targets)), targets
        # dask runs every task of the graph (Rasa gives it only the ones the targets need); here those the targets need
        assert set(ran) <= set(calls) and len(ran) == len(set(ran)), (ran, calls)
        assert "unused" not in ran

    def failing(*inputs: Any) -> None:
        raise RuntimeError("component failed")

    try:
        _evaluate({**graph, "intent": (failing, "words")}, ["intent"])
    except RuntimeError as error:
        assert str(error) == "component failed"
    else:
        raise AssertionError("the component's error was lost")


if __name__ == "__main__":
    asyncio.run(checks(sys.argv[1]))
    check_action_response_validation()
    check_kept_states()
    check_copies_only_for_debug_lines()
    check_graph_evaluation()
    print("ok")
