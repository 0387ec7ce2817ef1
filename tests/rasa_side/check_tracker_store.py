"""Checks of bot/tracker_store.py and bot/rasa_patches.py, run inside the Rasa virtualenv.

Run by tests/integration/test_rasa_side.py (`.venvs/rasa/bin/python tests/rasa_side/check_tracker_store.py DB_URL`);
each check raises AssertionError with a message, and the script prints "ok" when all pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Iterator
from typing import Any

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, BotUttered, SessionStarted, SlotSet, UserUttered

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


def form_asks(form: str = "order_status_form") -> list[Any]:
    """A customer's request activates a form, which asks for the order number."""
    return [
        UserUttered("where is my order", {"name": "order_status", "confidence": 0.9}),
        ActionExecuted(form),
        ActiveLoop(form),
        SlotSet("requested_slot", "order_number"),
        ActionExecuted("action_listen"),
    ]


def undone() -> list[Any]:
    """A message taken back (UserUtteranceReverted), then an action taken back (ActionReverted)."""
    from rasa.shared.core.events import ActionReverted, UserUtteranceReverted

    return [
        UserUttered("oops", {"name": "faq", "confidence": 0.9}),
        UserUtteranceReverted(),
        ActionExecuted("utter_faq"),
        ActionReverted(),
        ActionExecuted("action_listen"),
    ]


def restart() -> list[Any]:
    from rasa.shared.core.events import Restarted

    return [UserUttered("/restart", {"name": "restart", "confidence": 1.0}), Restarted()]


def new_session() -> list[Any]:
    return [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")]


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
    copied = 0
    for n in range(3, 43):
        copied += server_a._windows["c1"].state is not None
        tracker = await server_a.retrieve("c1")
        assert tracker is not None
        assert_as_replayed(server_a, "c1", tracker)
        if n % 3 == 0:
            tracker.clear_followup_action()  # as the processor does when it predicts one
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

    assert copied >= 30, f"only {copied} of 40 trackers were copied from the last turn's state"
    full = await server_a.retrieve_full_tracker("c1")
    assert full is not None
    texts = [e.text for e in full.events if isinstance(e, UserUttered)]
    assert texts == [f"message {n}" for n in range(43)], "the database must hold every turn, in order"

    windowed = await server_a.retrieve("c1")
    assert windowed is not None
    again = await server_a.retrieve("c1")
    assert again is not None and again is not windowed
    assert all(a is b for a, b in zip(windowed.events, again.events, strict=True)), (
        "trackers handed out of one window share their event objects (so the policies' replay goes on)"
    )
    assert windowed.get_slot("customer_id") == "cus_1", "a slot set before the window keeps its value"
    assert windowed.get_slot("verified") is True
    assert windowed.active_loop_name == "order_status_form", "the active form survives the window"
    assert windowed.latest_message.text == "message 42"
    assert windowed.current_slot_values() == full.current_slot_values()

    # Another Rasa server writes to the same conversation: server A must notice and read only the new events.
    other = await server_b.retrieve("c1")
    assert other is not None
    for event in turn(43, SlotSet("customer_first_name", "Anna")):
        other.update(event)
    await server_b.save(other)
    with counted_full_reads() as full_reads:
        seen_by_a = await server_a.retrieve("c1")
    assert seen_by_a is not None and seen_by_a.latest_message.text == "message 43"
    assert seen_by_a.get_slot("customer_first_name") == "Anna"
    assert full_reads == [], "server A extends its window with the newer events, without Rasa's read of the session"
    assert_same_state(seen_by_a, await fresh_store(url).retrieve("c1"))

    # The two servers take turns, as behind a round-robin balancer: each sees the other's turns, no full reads.
    with counted_full_reads() as full_reads:
        for n in range(44, 70):
            server = server_a if n % 2 else server_b
            tracker = await server.retrieve("c1")
            assert tracker is not None and tracker.latest_message.text == f"message {n - 1}"
            assert_as_replayed(server, "c1", tracker)
            for event in turn(n, SlotSet("customer_first_name", f"Name {n}")):
                tracker.update(event)
            await server.save(tracker)
    assert full_reads == []
    for server in (server_a, server_b):
        tracker = await server.retrieve("c1")
        assert tracker is not None
        window_users = sum(isinstance(e, UserUttered) for e in tracker.events)
        assert window_users <= 2 * 5 + 1, f"the window slides with events read from the other server ({window_users})"
        assert_same_state(tracker, await fresh_store(url).retrieve("c1"))
        assert tracker.get_slot("customer_first_name") == "Name 69"
    stored = await server_a.retrieve_full_tracker("c1")
    assert stored is not None
    texts = [e.text for e in stored.events if isinstance(e, UserUttered)]
    assert texts == [f"message {n}" for n in range(70)], "every turn of both servers stored once, in order"

    # A new session started on server B: server A reads the new session, not its old window plus the new events.
    tracker = await server_b.retrieve("c1")
    assert tracker is not None
    for event in [ActionExecuted("action_session_start"), SessionStarted(), *turn(70)]:
        tracker.update(event)
    await server_b.save(tracker)
    with counted_full_reads() as full_reads:
        seen_by_a = await server_a.retrieve("c1")
    assert full_reads == ["c1"], "a session started elsewhere is read the way Rasa reads a session"
    assert seen_by_a is not None
    assert [e.text for e in seen_by_a.events if isinstance(e, UserUttered)] == ["message 70"]

    # The conversation is erased (history ingestion deletes its events), then the customer writes again:
    # nothing of the erased conversation may come back from a server's cached window.
    table = server_a.SQLEvent.__table__
    with server_a.engine.begin() as connection:
        connection.execute(table.delete().where(table.c.sender_id == "c1"))
    fresh = await server_b.get_or_create_tracker("c1")
    for event in turn(100):
        fresh.update(event)
    await server_b.save(fresh)
    seen_by_a = await server_a.retrieve("c1")
    assert seen_by_a is not None
    texts = [e.text for e in seen_by_a.events if isinstance(e, UserUttered)]
    assert texts == ["message 100"], f"events of the erased conversation came back: {texts}"
    assert seen_by_a.get_slot("customer_first_name") is None

    if url.startswith("sqlite"):
        # SQLite: the store's connections stay open (SQLAlchemy 1.4 opens one per statement), in WAL mode with
        # synchronous=NORMAL (a commit does not wait for the disk)
        import sqlalchemy as sa

        opened: list[object] = []
        sa.event.listen(server_a.engine, "connect", lambda *_: opened.append(1))
        for n in range(10):
            tracker = await server_a.get_or_create_tracker("c2")
            for event in turn(n):
                tracker.update(event)
            await server_a.save(tracker)
        assert len(opened) <= 1, f"{len(opened)} connections opened for 10 turns"
        with server_a.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        stored = await fresh_store(url).retrieve_full_tracker("c2")
        assert stored is not None and sum(isinstance(e, UserUttered) for e in stored.events) == 10


def described(tracker: Any) -> dict[str, Any]:
    """A tracker's attributes, its events by identity and its slots by value (the store's marks left out)."""
    state = {key: value for key, value in vars(tracker).items() if not key.startswith("_hearth")}
    state["events"] = [id(e) for e in tracker.events]
    state["slots"] = {name: (type(s), vars(s)) for name, s in tracker.slots.items()}
    return state


def assert_as_replayed(store: WindowedSQLTrackerStore, sender_id: str, tracker: Any) -> None:
    """The tracker a read hands out is the one replaying its window's events makes (Rasa's from_events)."""
    from rasa.shared.core.trackers import DialogueStateTracker

    window = store._windows[sender_id]
    assert window.prefix is not None
    replayed = DialogueStateTracker.from_events(sender_id, window.prefix + window.events, slots=DOMAIN.slots)
    assert described(tracker) == described(replayed), "the tracker handed out is not its window's replay"


def fresh_store(url: str) -> WindowedSQLTrackerStore:
    return WindowedSQLTrackerStore(domain=DOMAIN, host=url, window_turns=5)


def assert_same_state(tracker: Any, expected: Any) -> None:
    assert expected is not None
    assert tracker.current_slot_values() == expected.current_slot_values()
    assert tracker.active_loop_name == expected.active_loop_name
    assert tracker.latest_message.text == expected.latest_message.text
    recent = [e.as_dict() for e in tracker.events][-12:]
    assert recent == [e.as_dict() for e in expected.events][-12:], "the last turns differ from a fresh read"


@contextlib.contextmanager
def counted_full_reads() -> Iterator[list[str]]:
    """The conversations read with Rasa's SQLTrackerStore.retrieve (the whole session, replayed) meanwhile."""
    calls: list[str] = []
    original = SQLTrackerStore.retrieve

    async def counting(self: SQLTrackerStore, sender_id: str) -> Any:
        calls.append(sender_id)
        return await original(self, sender_id)

    SQLTrackerStore.retrieve = counting  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        SQLTrackerStore.retrieve = original  # type: ignore[method-assign]


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
    """The featurizer's states, made by continuing the tracker's replay, are the ones Rasa computes: for both of
    RulePolicy's calls and MemoizationPolicy's, as the tracker grows one event at a time, through a form (whose
    repeated runs Rasa's replay leaves out), an undone message, a restart and a new session; and a tracker that
    grew is continued, not replayed from its start."""
    from rasa.core.featurizers.tracker_featurizers import MaxHistoryTrackerFeaturizer, TrackerFeaturizer
    from rasa.shared.core.generator import TrackerWithCachedStates
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot import rasa_patches

    featurizer = MaxHistoryTrackerFeaturizer(max_history=None)
    tracker = DialogueStateTracker.from_events("states", [ActionExecuted("action_listen")], slots=DOMAIN.slots)

    def states(use_text: bool, ignore_rule_only_turns: bool) -> list[object]:
        rule_only = {"slots": ["requested_slot"], "loops": []}  # a new dict each time, as RulePolicy makes
        return featurizer.prediction_states(
            [tracker], DOMAIN, use_text, ignore_rule_only_turns=ignore_rule_only_turns, rule_only_data=rule_only
        )[0]

    def rasas_own(use_text: bool, ignore_rule_only_turns: bool) -> list[object]:
        TrackerFeaturizer._create_states = staticmethod(rasa_patches._create_states)  # type: ignore[method-assign]
        try:
            return states(use_text, ignore_rule_only_turns)
        finally:
            TrackerFeaturizer._create_states = staticmethod(rasa_patches._kept_states)  # type: ignore[method-assign]

    form = [
        *form_asks(),
        UserUttered("JH100001", {"name": "inform", "confidence": 0.9}),
        ActionExecuted("order_status_form"),  # the form's repeated run: Rasa's replay leaves it out
        SlotSet("order_number", "JH100001"),
        ActiveLoop(None),
        SlotSet("requested_slot", None),
        ActionExecuted("action_order_status"),
        BotUttered("on its way"),
        ActionExecuted("action_listen"),
    ]
    hidden_rule_turn = [
        UserUttered("thanks", {"name": "thank", "confidence": 0.9}),
        ActionExecuted("utter_welcome", hide_rule_turn=True),
        BotUttered("you're welcome"),
        ActionExecuted("action_listen", hide_rule_turn=True),
    ]
    events: list[Any] = [*turn(0, SlotSet("customer_id", "c-0")), *form, *hidden_rule_turn, *turn(1)]
    events += [*undone(), *turn(2), *restart(), *turn(3), *new_session(), *turn(4)]
    started: list[object] = []
    start = rasa_patches._Replay.__init__

    def counted_start(self: Any, *args: Any) -> None:
        started.append(args[2])
        start(self, *args)

    def same_as_rasa() -> None:
        for use_text, ignore in ((True, True), (False, True), (True, False), (True, True)):
            ours, theirs = states(use_text, ignore), rasas_own(use_text, ignore)
            assert ours == theirs, (tracker.events[-1], use_text, ignore, ours, theirs)

    rasa_patches._Replay.__init__ = counted_start  # type: ignore[method-assign]
    try:
        for event in events:
            tracker.update(event)
            same_as_rasa()
        assert len(rasa_patches._replays["states"]) == 2, "one replay for each set of arguments"
        # for each set of arguments: the first start, then one at a form's first activation and at each of the five
        # events that undo or restart (not one per event)
        assert len(started) == 2 * 7, f"the replay started {len(started)} times for {len(events)} events"

        # The next message's tracker, which the tracker store makes of the same event objects: the replay goes on.
        started.clear()
        tracker = DialogueStateTracker.from_events("states", list(tracker.events), slots=DOMAIN.slots)
        for event in turn(5):
            tracker.update(event)
            same_as_rasa()
        assert started == [], "a new tracker of the same events continues the replay"

        # The same conversation read back from the database (other event objects): the replay starts over.
        tracker = DialogueStateTracker.from_dict("states", [e.as_dict() for e in tracker.events], DOMAIN.slots)
        tracker.update(UserUttered("and then", {"name": "faq", "confidence": 0.9}))
        same_as_rasa()
        assert len(started) == 2, "a tracker of other event objects is replayed from its start"

        # Training's trackers keep Rasa's own (cached) states, which ignore the rule-only arguments.
        started.clear()
        tracker = TrackerWithCachedStates.from_events("states", events, slots=DOMAIN.slots, domain=DOMAIN)
        same_as_rasa()
        assert started == [], "a training tracker was replayed"
    finally:
        rasa_patches._Replay.__init__ = start  # type: ignore[method-assign]


def check_rule_matches() -> None:
    """RulePolicy's matching rules, kept per sequence of the last states for a policy loaded from a model, are the
    ones Rasa's own search finds for every conversation tried (long ones too: only as many states as the longest
    rule count), the second time from what was kept; a policy being trained keeps nothing."""
    import json
    import random
    import tempfile
    from pathlib import Path

    from rasa.core.policies.rule_policy import RulePolicy
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.shared.core.constants import SHOULD_NOT_BE_SET

    from bot import rasa_patches

    rng = random.Random(7)
    intents, actions = ["greet", "faq", "inform", "thank", "bye"], ["action_listen", "utter_greet", "order_form"]

    def state(start: bool = False, rule: bool = False) -> dict[str, Any]:
        made: dict[str, Any] = {"user": {"intent": rng.choice(intents)}}
        if rng.random() < 0.3:
            made["user"]["entities"] = ("order_number",)
        if not start:
            made["prev_action"] = {"action_name": rng.choice(actions)}
        if rng.random() < 0.4:
            made["slots"] = {"verified": SHOULD_NOT_BE_SET if rule and rng.random() < 0.5 else (1.0,)}
        if rng.random() < 0.3:
            made["active_loop"] = {"name": "order_form" if rng.random() < 0.7 else SHOULD_NOT_BE_SET}
        return made

    lookup = {}
    for _ in range(150):
        length = rng.randint(1, 3)
        rule = [state(start=i == 0 and rng.random() < 0.2, rule=True) for i in range(length)]
        lookup[json.dumps(rule)] = rng.choice(actions)
    with tempfile.TemporaryDirectory() as directory:
        storage, resource = LocalModelStorage(Path(directory)), Resource("rules")
        context = ExecutionContext(GraphSchema({}), "check")
        trained = RulePolicy.create(RulePolicy.get_default_config(), storage, resource, context)
        trained.lookup["rules"] = lookup
        trained.persist()
        loaded = RulePolicy.load(RulePolicy.get_default_config(), storage, resource, context)
    assert getattr(trained, "_hearth_rule_matches", None) is None, "a policy in training must keep no matches"
    assert loaded._hearth_rule_matches == {}
    searched: list[int] = []
    original = rasa_patches._get_possible_keys

    def counted(self: Any, lookup: Any, states: Any) -> Any:
        searched.append(len(states))
        return original(self, lookup, states)

    conversations = [[state(start=i == 0) for i in range(rng.randint(1, 14))] for _ in range(400)]
    matched = 0
    for states in conversations + conversations:
        expected = original(loaded, loaded.lookup["rules"], states)
        rasa_patches._get_possible_keys = counted
        try:
            ours = loaded._get_possible_keys(loaded.lookup["rules"], states)
        finally:
            rasa_patches._get_possible_keys = original
        assert ours == expected, (states, ours, expected)
        matched += bool(expected)
    assert matched > 100, f"only {matched} conversations matched a rule: the check tries too little"
    assert searched and max(searched) <= 3, "states beyond the longest rule's reach were searched"
    distinct = {tuple(json.dumps(s, sort_keys=True) for s in c[-3:]) for c in conversations}
    assert len(searched) == len(distinct), f"searched {len(searched)} times for {len(distinct)} distinct endings"


def check_tracker_copy() -> None:
    """A tracker's copy made from its state is the one Rasa's replay makes: every attribute, slot and event, at each
    step of a conversation with a form, a followup action, undone turns, a restart and a new session, also after the
    processor cleared the followup action; Rasa's replay made only the copies it must."""
    import copy

    from rasa.shared.core.events import (
        FollowupAction,
        LoopInterrupted,
    )
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot import rasa_patches

    replayed: list[int] = []
    original = rasa_patches._rasa_tracker_copy

    def counted(tracker: Any) -> Any:
        replayed.append(len(tracker.events))
        return original(tracker)

    events: list[Any] = [
        ActionExecuted("action_listen"),
        *turn(0, SlotSet("customer_id", "c-0")),
        *form_asks(),
        UserUttered("JH100001", {"name": "inform", "confidence": 0.9}),
        FollowupAction("action_order_status"),
        ActiveLoop(None),
        SlotSet("requested_slot", None),
        ActionExecuted("action_order_status"),
        BotUttered("on its way"),
        ActionExecuted("action_listen"),
        *undone(),
        *turn(1),
        *restart(),
        *new_session(),
        *turn(2),
        FollowupAction("utter_faq"),
    ]
    tracker = DialogueStateTracker.from_events("copy", [], slots=DOMAIN.slots)
    rasa_patches._rasa_tracker_copy = counted
    try:
        for event in events:
            tracker.update(event)
            for clear in (False, True):
                if clear:  # as the processor does when it predicts the followup action
                    tracker.clear_followup_action()
                ours, theirs = tracker.copy(), original(tracker)
                assert type(ours) is type(theirs) and described(ours) == described(theirs), (event, clear)
                before = copy.deepcopy(tracker.active_loop)
                ours.update(SlotSet("customer_id", "changed"))
                ours.update(LoopInterrupted(True))  # changes the copy's active loop in place
                assert tracker.get_slot("customer_id") != "changed" and len(ours.events) == len(tracker.events) + 2
                assert tracker.active_loop == before, "the copy shares the tracker's active loop"
    finally:
        rasa_patches._rasa_tracker_copy = original
    assert 0 < len(replayed) <= 12, f"Rasa's replay made {len(replayed)} of {2 * len(events)} copies"


def check_domain_is_empty() -> None:
    """Domain.is_empty gives Rasa's answers without building an empty domain for each question."""
    from bot import rasa_patches

    built: list[object] = []
    from_dict = Domain.from_dict.__func__  # type: ignore[attr-defined]

    def counted(cls: Any, data: Any) -> Any:
        built.append(data)
        return from_dict(cls, data)

    rasa_patches._empty_domain_description()  # made once, before the questions
    Domain.from_dict = classmethod(counted)  # type: ignore[method-assign,assignment]
    try:
        for domain, empty in ((DOMAIN, False), (Domain.empty(), True), (Domain.from_dict({"intents": ["hi"]}), False)):
            built.clear()
            for _ in range(3):
                assert domain.is_empty() is empty
            assert built == [], "an empty domain was built to answer is_empty"
            assert empty == (domain.as_dict() == Domain.empty().as_dict()), "not Rasa's answer"
    finally:
        Domain.from_dict = classmethod(from_dict)  # type: ignore[method-assign,assignment]


def check_applied_events() -> None:
    """A tracker's applied events, continued from its last answer as it grows, are the ones Rasa works out from its
    first event: at each step of a conversation with a form's repeated runs, an unhappy path, both undo events, a
    restart, a new session and a second form appearing late; worked out from the start only where they must be."""
    from rasa.shared.core.events import (
        ActionExecutionRejected,
    )
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot import rasa_patches

    def form_turns(form: str) -> list[Any]:
        return [
            *form_asks(form),
            UserUttered("what?", {"name": "faq", "confidence": 0.9}),
            ActionExecutionRejected(form),
            ActionExecuted("utter_faq"),
            ActionExecuted(form),  # back from the unhappy path
            ActionExecuted("action_listen"),
            UserUttered("JH100001", {"name": "inform", "confidence": 0.9}),
            ActionExecuted(form),  # the form's repeated run: not applied
            SlotSet("order_number", "JH100001"),
            ActiveLoop(None),
            SlotSet("requested_slot", None),
            ActionExecuted("action_order_status"),
            ActionExecuted("action_listen"),
        ]

    events: list[Any] = [
        ActionExecuted("action_listen"),
        *turn(0),
        *form_turns("order_status_form"),
        *undone(),
        *turn(1),
        *form_turns("order_status_form"),
        *restart(),
        *turn(2),
        *new_session(),
        *turn(3),
        *form_turns("cancel_order_form"),  # a form name not seen before
        *turn(4),
    ]
    worked_out: list[int] = []
    original = rasa_patches._rasa_applied_events

    def counted(tracker: Any) -> Any:
        worked_out.append(len(tracker.events))
        return original(tracker)

    tracker = DialogueStateTracker.from_events("applied", [], slots=DOMAIN.slots)
    rasa_patches._rasa_applied_events = counted
    try:
        for event in events:
            tracker.update(event)
            for _ in range(2):
                ours, theirs = tracker.applied_events(), original(tracker)
                assert [id(e) for e in ours] == [id(e) for e in theirs], (len(tracker.events), event)
                ours.append("changed by a caller")  # a caller's list is its own
    finally:
        rasa_patches._rasa_applied_events = original
    # from the start: the first time, for each undo event (Rasa's replay asks while applying it) and for the new form
    assert 0 < len(worked_out) <= 6, f"worked out from the start {len(worked_out)} times for {len(events)} events"


def check_action_call_json() -> None:
    """A call to the action server carries the same JSON (by ujson) as with the standard library's encoder, and what
    that encoder refuses is refused the same way; the kept session is the one that encodes so."""
    import json

    import numpy as np
    from rasa.shared.core.events import SlotSet as Slot
    from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity
    from rasa.utils.endpoints import EndpointConfig

    from bot.rasa_patches import _json_text

    tracker = DialogueStateTracker.from_events(
        "json/é", [*turn(1), Slot("customer_first_name", "Zoë / “Z”")], DOMAIN.slots
    )
    call = {"next_action": "action_x", "tracker": tracker.current_state(EventVerbosity.ALL), "score": 1e-05}
    assert json.loads(_json_text(call)) == json.loads(json.dumps(call))
    for refused in ({"value": np.float32(0.5)}, {"value": object()}):
        try:
            _json_text(refused)
        except TypeError:
            pass
        else:
            raise AssertionError(f"{refused} was encoded; the standard library refuses it")

    async def serializer() -> object:
        async with EndpointConfig("http://127.0.0.1:9/webhook").session() as opened:
            found = opened._json_serialize
            await opened.close()
            return found

    assert asyncio.run(serializer()) is _json_text, "the kept session does not encode with _json_text"


def check_copies_only_for_debug_lines() -> None:
    """The debug-only deep copies of the policies, the processor and forms are made when debug lines are logged, and
    skipped when not; those modules use `copy` for nothing else (so the stand-in changes nothing else)."""
    import ast
    import inspect
    import logging

    from rasa.core import processor
    from rasa.core.actions import forms
    from rasa.core.policies import memoization, rule_policy
    from rasa.utils.log_utils import configure_structlog

    import bot.rasa_patches  # noqa: F401

    def debug_call(node: ast.AST) -> bool:
        return (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "debug"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "structlogger"
        )

    modules = (rule_policy, memoization, processor, forms)
    for module in modules:
        tree = ast.parse(inspect.getsource(module))
        uses = [n for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id == "copy"]
        copies = [
            n.value
            for call in ast.walk(tree)
            if debug_call(call)
            for n in call.keywords  # type: ignore[attr-defined]
            if isinstance(n.value, ast.Call) and ast.unparse(n.value.func) == "copy.deepcopy"
        ]
        # every use of the module `copy` is a deep copy passed to a structlog debug line
        assert uses and len(uses) == len(copies), (module.__name__, len(uses), len(copies))
    states = [{"user": {"intent": "greet"}}]
    configure_structlog(logging.INFO)
    assert all(module.copy.deepcopy(states) is states for module in modules)
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
    check_rule_matches()
    check_tracker_copy()
    check_domain_is_empty()
    check_applied_events()
    check_copies_only_for_debug_lines()
    check_graph_evaluation()
    check_action_call_json()
    print("ok")
