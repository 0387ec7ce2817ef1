"""Fixes for Rasa 3.6, applied when the Rasa server or its training loads bot/ code (bot/nlu/__init__.py imports this).

1. A custom action that cannot run (the action server is down, restarting, too slow or failing) gets the
   customer an apology, once per message, instead of silence: Rasa 3.6 logs the error and says nothing. The
   conversation keeps its state, so it goes on normally once the action server is back.

2. A request whose Content-Length is not a number gets a 400. Sanic 21.12 (which Rasa 3.6 pins) answers
   "Content-Length: abc" with a 500 and reads "Content-Length: -1" as -1 bytes to go, which spins its event loop
   at 100 % CPU for good: one request would stop the Rasa server answering anyone.

3. A malformed Engine.IO or Socket.IO frame on the web chat's socket is dropped with one log line. python-engineio
   4.15 lets the error escape its websocket loop (a traceback, the socket's writer task left pending) and
   python-socketio 5.18 logs a traceback for a packet it cannot decode.

4. A JWT on Rasa's HTTP API that is not HS256 with the key (`alg: none`, another algorithm), or that has a claim
   PyJWT refuses but sanic-jwt 1.8 does not expect (a `sub` that is not a string, ...), gets 401 like a wrong
   signature: sanic-jwt lets those errors escape, so Rasa answered 500 and logged a traceback. A token without an
   expiry (`exp`) is refused too: one that leaked would otherwise work for good (the console's live 60 s); and
   one whose expiry is more than 10 s past, where sanic-jwt would allow 3 minutes for clocks that differ.

5. A performance fix that changes no behaviour:

Rasa validates every action server response with `jsonschema.validate(result, schema)`,
which first checks the *schema* against its meta-schema: about 30 ms of CPU per custom
action call on this machine, for a schema that never changes. Validating with validators
built once gives the same result (the same `ValidationError`, with Rasa's hint appended).
The schema says each event must match exactly one of 23 event schemas (`oneOf`), so every
event was tried against all 23 (about 1.9 ms a response, 8% of the Rasa server's time under
load); each schema requires its own `event` name, so only the one named can match, and
each event is checked against that one. See docs/measurements.md (speed) for the profile.

6. Another: Rasa opens a new HTTP client session, and so a new connection, for every call to the action server
(`EndpointConfig.request`); here each endpoint keeps one session and its connections open. Connections idle for
KEEPALIVE_SECONDS are closed, before the action server's own 5 s, so none the server has closed is reused. The
calls' JSON (the conversation's events) is encoded by ujson, which Rasa installs: the same JSON, a third of the time.

7. Another, for training: Rasa's training fingerprints every node's inputs, and so every message's features, for
its cache; a sparse matrix was turned into one line of text per entry and a dense one hashed by the repr of its
bytes, a tenth of a training on 10,000 examples. Here the arrays' own bytes are hashed. Equal features still get
equal fingerprints (the sparse matrix in one canonical form) and different ones different. bot/nlu/__init__.py
imports this module, so the fix applies wherever the NLU components load: `rasa train` as well as the server.

8. Another: every policy prediction replayed the whole tracker, event by event, to compute its dialogue states
(once per policy, several predictions a message): 16 % of the server's time under load. Here one replay per
conversation goes on as the tracker grows, across messages too (see _Replay); the states are Rasa's own.

9. Another: RulePolicy found the rules that apply by testing each of its rules (289 in Hearth's model) against the
last state, then the survivors against every earlier state of the conversation, several times a message: 9 % of the
server's time under load. Which rules apply depends only on the lookup and the last states, as many as the longest
rule has (a rule never looks further back), so the answer is kept for those states (see _possible_rule_keys), for a
policy loaded from a model: in training the lookup changes between predictions.

10. Another: the processor copies the tracker before each action it runs (`DialogueStateTracker.copy`), by replaying
every event into a new one: 4 % of the server's time under load. Here the copy is made of the state reached, which is
what the replay arrives at (every change to a tracker's state is an event's, except the processor's clearing of the
followup action, which the copy works out from the events as the replay would); see _tracker_copy.

11. Another: for every message the processor asks whether the domain is empty (`Domain.is_empty`), which Rasa answers
by building an empty domain, with all its checks, to compare with: 4 % of the server's time under load. The empty
domain's description is made once.

12. Another: a tracker's applied events (`DialogueStateTracker.applied_events`: its events without those undone or
restarted away) were worked out from its first event each time they were asked for, several times a message (the
session check, the action calls, the policies): 4 % of the server's time under load. Here the answer for a tracker is
continued over the events added since it was last asked, with Rasa's steps (see _applied_events).

13. Another: the policies, the processor and forms deep-copy what they pass to debug log lines, also when debug lines
are dropped (Rasa's default level): 3 % of the server's time under load. In those modules `copy` stands for
_CopyForDebugLines, which copies only when debug lines are logged (their only use of `copy`, which a check verifies).
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import logging
import os
import time
from collections import OrderedDict, deque
from functools import lru_cache
from itertools import islice
from typing import Any

import aiohttp
import jwt
import numpy as np
import structlog
import ujson
from engineio import packet as engineio_packet
from jsonschema import ValidationError
from jsonschema.validators import validator_for
from rasa.core import processor
from rasa.core.actions import action as rasa_actions
from rasa.core.actions import forms
from rasa.core.featurizers.tracker_featurizers import TrackerFeaturizer
from rasa.core.policies import memoization, rule_policy
from rasa.engine.exceptions import GraphRunError
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.shared.constants import DEFAULT_SENDER_ID, DOCS_BASE_URL
from rasa.shared.core.constants import PREVIOUS_ACTION, REQUESTED_SLOT
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActionReverted,
    ActiveLoop,
    BotUttered,
    FollowupAction,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import RasaException
from rasa.shared.nlu.training_data.features import Features
from rasa.utils.endpoints import DEFAULT_REQUEST_TIMEOUT, EndpointConfig
from sanic.exceptions import InvalidUsage
from sanic.request import Request
from sanic_jwt.authentication import Authentication

log = logging.getLogger(__name__)
APOLOGY = "utter_crm_unavailable"  # "I can't reach our customer system right now ... nothing you've told me is lost"
_run_remote_action = rasa_actions.RemoteAction.run


def action_timeout() -> float:
    """Seconds a custom action may take (ACTION_SERVER_TIMEOUT, default 20) before the customer is told; Rasa's
    own limit is 5 minutes."""
    try:
        return max(1.0, float(os.environ.get("ACTION_SERVER_TIMEOUT", "20")))
    except ValueError:
        return 20.0


def _apologised_this_turn(tracker: Any, text: str) -> bool:
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return False
        if isinstance(event, BotUttered) and event.text == text:
            return True
    return False


async def _run_or_apologise(self: rasa_actions.RemoteAction, output_channel: Any, nlg: Any, tracker: Any, domain: Any):
    try:
        return await asyncio.wait_for(_run_remote_action(self, output_channel, nlg, tracker, domain), action_timeout())
    except rasa_actions.ActionExecutionRejection:
        raise  # an action refusing to run (a form's validation rejecting a value): Rasa's normal flow
    except (RasaException, asyncio.TimeoutError) as exc:
        log.warning("custom action %s could not run (%s): the customer gets %s", self.name(), exc or "timeout", APOLOGY)
        response = await nlg.generate(APOLOGY, tracker, output_channel.name())
        events = []
        if response and not _apologised_this_turn(tracker, response.get("text")):
            events.append(rasa_actions.create_bot_utterance(response))
        if self.name().startswith("validate_"):
            # a form's validation: what the customer just gave must not count as checked, so it is cleared
            # and the form asks for it again, as it would after an invalid value
            # (with no value extracted before validation, the slot the form asked for: left empty, the form
            # would reject the turn and the customer would hear the fallback instead)
            names = _slots_set_this_turn(tracker) or [tracker.get_slot(REQUESTED_SLOT)]
            events += [SlotSet(name, None) for name in names if name]
        return events


def _slots_set_this_turn(tracker: Any) -> list[str]:
    """The values a form's validation is asked to check: Rasa puts them after the form's ActionExecuted."""
    names = []
    for event in reversed(tracker.events):
        if isinstance(event, (UserUttered, ActionExecuted)):
            break
        if isinstance(event, SlotSet) and event.value is not None and event.key not in (*names, REQUESTED_SLOT):
            names.append(event.key)
    return names


@lru_cache(maxsize=1)
def _response_validators() -> tuple[Any, dict[str, Any]]:
    """A validator of the response without the events' `oneOf`, and one per event name of the schema that the
    `oneOf` would pick for it (each requires its own `event` constant, so no other can match)."""
    schema = rasa_actions.RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)  # once, instead of once per call
    items = schema["properties"]["events"]["items"]
    common = {key: value for key, value in items.items() if key != "oneOf"}
    outer = {**schema, "properties": {**schema["properties"], "events": {"type": "array", "items": common}}}
    by_event = {sub["properties"]["event"]["const"]: cls(sub) for sub in items["oneOf"]}
    return cls(outer), by_event


def _validate_response(result: dict[str, Any]) -> None:
    outer, by_event = _response_validators()
    outer.validate(result)
    for event in result.get("events") or []:
        validator = by_event.get(event["event"])
        if validator is None:
            raise ValidationError(f"{event['event']!r} is not an event Rasa knows ({', '.join(by_event)})")
        validator.validate(event)


def _validate_action_result(self: rasa_actions.RemoteAction, result: dict[str, Any]) -> bool:
    try:
        _validate_response(result)
        return True
    except ValidationError as e:
        e.message += (
            ". Failed to validate Action server response from API, make sure your response from the "
            f"Action endpoint is valid. For more information about the format visit {DOCS_BASE_URL}/custom-actions"
        )
        raise e


_request_init = Request.__init__


KEEPALIVE_SECONDS = 4.0


class _KeptSession:
    """`async with` gives the endpoint's open session and leaves it open."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    async def __aenter__(self) -> aiohttp.ClientSession:
        return self.session

    async def __aexit__(self, *exc: object) -> None:
        return None


def _kept_session(self: EndpointConfig) -> _KeptSession:
    """Rasa's session (the endpoint's headers, basic auth and timeout), made once per endpoint and event loop."""
    loop = asyncio.get_running_loop()
    kept_loop, session = self.__dict__.get("_kept_session", (None, None))
    if session is None or session.closed or kept_loop is not loop:
        auth = aiohttp.BasicAuth(self.basic_auth["username"], self.basic_auth["password"]) if self.basic_auth else None
        session = aiohttp.ClientSession(
            headers=self.headers,
            auth=auth,
            timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
            connector=aiohttp.TCPConnector(keepalive_timeout=KEEPALIVE_SECONDS),
            json_serialize=_json_text,
        )
        self.__dict__["_kept_session"] = (loop, session)
    return _KeptSession(session)


def _json_text(value: Any) -> str:
    """The JSON of a request to the action server (the conversation's events, a tenth of the Rasa server's time
    with the standard library's encoder) by ujson, which Rasa already installs; the standard library's for what
    ujson refuses, so an error is the one Rasa would have raised."""
    try:
        return ujson.dumps(value)
    except (TypeError, OverflowError, ValueError):
        return json.dumps(value)


def _evaluate(graph: dict[str, Any], targets: list[str]) -> list[Any]:
    """What dask.get(graph, targets) returns for Rasa's task graphs, where a task is (callable, *names of the tasks
    whose results it takes) and anything else is a value: each task run once, after the tasks it takes results
    from. Dask's scheduler, made for large graphs, was a tenth of a parse in a profile, for the dozen tasks here."""
    done: dict[str, Any] = {}

    def result(key: str) -> Any:
        if key not in done:
            task = graph[key]
            if isinstance(task, tuple) and task and callable(task[0]):
                done[key] = task[0](*(result(name) if name in graph else name for name in task[1:]))
            else:
                done[key] = task
        return done[key]

    return [result(target) for target in targets]


def _run_graph(
    self: DaskGraphRunner, inputs: dict[str, Any] | None = None, targets: list[str] | None = None
) -> dict[str, Any]:
    """DaskGraphRunner.run with the task graph of each set of targets built once, run without dask's scheduler."""
    run_targets = targets if targets else self._graph_schema.target_names
    graphs = self.__dict__.setdefault("_task_graphs", {})
    key = tuple(run_targets)
    if key not in graphs:
        graphs[key] = self._build_dask_graph(self._graph_schema.minimal_graph_schema(run_targets))
    run_graph = dict(graphs[key])
    if inputs:
        self._add_inputs_to_graph(inputs, run_graph)
    try:
        return dict(_evaluate(run_graph, run_targets))
    except RuntimeError as e:
        raise GraphRunError("Error running runner.") from e


_create_states = TrackerFeaturizer._create_states
REPLAYS_KEPT = 128  # conversations
_UNDOING = (ActionReverted, UserUtteranceReverted, Restarted, SessionStarted)


class _Replay:
    """Domain.states_for_tracker_history for one conversation, kept open: when its tracker has grown (the processor
    adds the events of each action to the tracker between predictions, and the next message's tracker, from
    bot/tracker_store.py's window, holds the same event objects), only the new events are replayed onto the state
    reached, instead of the whole tracker from its first event for every prediction and policy.

    The steps are Rasa's own (rasa/shared/core/domain.py and trackers.py, 3.6): the tracker's applied events are
    replayed into a fresh copy; before each ActionExecuted, and once at the end, that copy's state is taken (for
    RulePolicy with its rule-only turns hidden). The replay goes on only with a tracker whose first events are the
    very events it replayed; a new event that would change which earlier events Rasa counts as applied (an
    ActionReverted or UserUtteranceReverted, a restart, a new session, a form's repeated execution, a form not seen
    before) starts it over."""

    def __init__(self, tracker: Any, domain: Any, arguments: tuple[Any, ...]) -> None:
        self.sender_id = tracker.sender_id
        self.domain = domain
        self.arguments = arguments
        self.replayed = tracker.init_copy()
        self.applied: list[Any] = []  # the events replayed so far: Rasa's applied_events of the events seen
        self.states: list[dict[str, Any]] = []  # the states before each ActionExecuted replayed
        self.last_ml_action: Any = None
        self.turn_was_hidden = False
        self.final: list[dict[str, Any]] | None = None  # all the states, while no event was added
        self.seen = list(tracker.events)  # the tracker's events (not only the applied ones) so far
        self.loop_names = {e.name for e in self.seen if isinstance(e, ActiveLoop) and e.name}
        for event in tracker.applied_events():
            self._replay(event)

    def made_for(self, tracker: Any, domain: Any, arguments: tuple[Any, ...]) -> bool:
        return self.sender_id == tracker.sender_id and self.domain is domain and self.arguments == arguments

    def advance(self, tracker: Any) -> bool:
        """Replays the events `tracker` has after those seen; False when the replay must start over for it."""
        events, seen = tracker.events, self.seen
        if len(events) < len(seen) or not all(a is b for a, b in zip(seen, events, strict=False)):
            return False  # not the very events replayed (a tracker read back from the database, another branch)
        for i in range(len(seen), len(events)):
            event = events[i]
            if isinstance(event, _UNDOING) or (
                isinstance(event, ActiveLoop) and event.name and event.name not in self.loop_names
            ):
                return False
            if (
                isinstance(event, ActionExecuted)
                and event.action_name in self.loop_names
                and not tracker._first_loop_execution_or_unhappy_path(event.action_name, self.applied)
            ):
                return False
            self._replay(event)
            seen.append(event)
        return True

    def _replay(self, event: Any) -> None:
        if isinstance(event, ActionExecuted):
            state, self.last_ml_action, self.turn_was_hidden = self._state(
                event.hide_rule_turn, self.states, self.last_ml_action, self.turn_was_hidden
            )
            if state is not None:
                self.states.append(state)
        self.replayed.update(event)
        self.applied.append(event)
        self.final = None

    def all_states(self) -> list[dict[str, Any]]:
        if self.final is None:
            final, _, _ = self._state(False, self.states, self.last_ml_action, self.turn_was_hidden)
            self.final = self.states + ([final] if final is not None else [])
        return self.final

    def _state(
        self, hide_rule_turn: bool, states: list[dict[str, Any]], last_ml_action: Any, turn_was_hidden: bool
    ) -> tuple[dict[str, Any] | None, Any, bool]:
        """One step of Rasa's loop, on the replayed tracker: the state (None for a hidden rule turn) and the loop's
        two variables after it."""
        omit_unset_slots, ignore_rule_only_turns, rule_only_data = self.arguments
        domain, tracker = self.domain, self.replayed
        if ignore_rule_only_turns:
            if not turn_was_hidden:
                last_ml_action = domain._get_prev_action_sub_state(tracker)
            if not tracker.followup_action and not tracker.latest_action_name == tracker.active_loop_name:
                turn_was_hidden = hide_rule_turn
            if turn_was_hidden:
                return None, last_ml_action, turn_was_hidden
        state = domain.get_active_state(tracker, omit_unset_slots=omit_unset_slots)
        if ignore_rule_only_turns:
            domain._remove_rule_only_features(state, rule_only_data)
            if states:
                domain._substitute_rule_only_user_input(state, states[-1])
            if last_ml_action:
                state[PREVIOUS_ACTION] = last_ml_action
        return domain._clean_state(state), last_ml_action, turn_was_hidden


_replays: OrderedDict[str, list[_Replay]] = OrderedDict()  # by conversation, the most recently used last


def _copy_states(states: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A copy the callers may edit as Rasa's do (they delete keys of a state's sub-states). A sub-state that several
    states share (Rasa's replay puts one object into several) is one object in the copy too, as in Rasa's own
    result: the featurizer's edit of the last user input reaches the states that share it."""
    copies: dict[int, dict[str, Any]] = {}

    def copied(value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        if id(value) not in copies:
            copies[id(value)] = dict(value)
        return copies[id(value)]

    return [{key: copied(value) for key, value in state.items()} for state in states]


def _kept_states(
    tracker: Any,
    domain: Any,
    omit_unset_slots: bool = False,
    ignore_rule_only_turns: bool = False,
    rule_only_data: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """TrackerFeaturizer._create_states, continuing the tracker's replay (see _Replay) where it can. Only for the
    server's trackers: training's (TrackerWithCachedStates) keep Rasa's own states, which are cached and differ
    (they ignore the rule-only arguments)."""
    if type(tracker) is not DialogueStateTracker:
        return _create_states(tracker, domain, omit_unset_slots, ignore_rule_only_turns, rule_only_data)
    arguments = (omit_unset_slots, ignore_rule_only_turns, rule_only_data)  # RulePolicy makes a new dict each time
    replays = _replays.setdefault(tracker.sender_id, [])
    _replays.move_to_end(tracker.sender_id)
    replay = next((r for r in replays if r.made_for(tracker, domain, arguments)), None)
    if replay is None or not replay.advance(tracker):
        if replay is not None:
            replays.remove(replay)
        replay = _Replay(tracker, domain, arguments)
        replays.append(replay)
        while len(_replays) > REPLAYS_KEPT:
            _replays.popitem(last=False)
    return _copy_states(replay.all_states())


_get_possible_keys = rule_policy.RulePolicy._get_possible_keys
_load_memoization_policy = memoization.MemoizationPolicy.load.__func__
RULE_MATCHES_KEPT = 4096  # distinct state sequences, per lookup


def _loaded_rule_policy(cls: Any, *args: Any, **kwargs: Any) -> Any:
    policy = _load_memoization_policy(cls, *args, **kwargs)
    policy._hearth_rule_matches = {}  # a loaded policy's lookup never changes: its matches can be kept
    return policy


def _frozen_state(state: dict[str, Any]) -> frozenset[Any]:
    return frozenset((kind, frozenset(sub_state.items())) for kind, sub_state in state.items())


def _possible_rule_keys(self: Any, lookup: dict[str, Any], states: list[dict[str, Any]]) -> set[str]:
    """RulePolicy._get_possible_keys, for a loaded policy kept per sequence of the last states. Rasa's test of a rule
    against the state i turns back passes every rule shorter than i + 1 (`_is_rule_applicable`), so the states
    before the longest rule's reach change nothing; the rest is a function of the lookup and those states."""
    kept = getattr(self, "_hearth_rule_matches", None)
    if kept is None:
        return _get_possible_keys(self, lookup, states)
    entry = kept.get(id(lookup))
    if entry is None or entry[0] is not lookup:
        depth = max((len(self._rule_key_to_state(key)) for key in lookup), default=0)
        entry = kept[id(lookup)] = (lookup, depth, OrderedDict())
    _, depth, matches = entry
    recent = states[-depth:] if depth else []
    try:
        key = tuple(_frozen_state(state) for state in recent)
    except TypeError:  # a value that cannot be hashed (not one Rasa's states hold): Rasa's own way
        return _get_possible_keys(self, lookup, recent)
    found = matches.get(key)
    if found is None:
        found = matches[key] = frozenset(_get_possible_keys(self, lookup, recent))
        while len(matches) > RULE_MATCHES_KEPT:
            matches.popitem(last=False)
    else:
        matches.move_to_end(key)
    return set(found)


_rasa_tracker_copy = DialogueStateTracker.copy


def _tracker_copy(self: DialogueStateTracker) -> DialogueStateTracker:
    """DialogueStateTracker.copy (a new tracker into which every event is replayed) from the state reached: the same
    attributes, values and event objects. The followup action is the one the replay leaves: set by the newest
    FollowupAction, cleared by a later message or action. Where a restart, a new session or an undo comes after those,
    and for trackers of other kinds or with a cap on their events, Rasa's replay makes the copy."""
    if type(self) is not DialogueStateTracker or type(self.slots) is not dict or self._max_event_history is not None:
        return _rasa_tracker_copy(self)  # (with a cap on the events kept, the replay would lose the oldest's effects)
    for event in reversed(self.events):
        if isinstance(event, FollowupAction):
            followup: str | None = event.action_name
            break
        if isinstance(event, (UserUttered, ActionExecuted)):
            followup = None
            break
        if isinstance(event, _UNDOING):
            return _rasa_tracker_copy(self)
    else:
        return _rasa_tracker_copy(self)
    tracker = DialogueStateTracker.__new__(DialogueStateTracker)
    tracker._max_event_history = None
    tracker.events = deque(self.events)
    tracker.sender_id = self.sender_id or DEFAULT_SENDER_ID
    tracker.slots = {name: copy.copy(slot) for name, slot in self.slots.items()}
    tracker.sender_source = None
    tracker.is_rule_tracker = self.is_rule_tracker
    tracker._paused = self._paused
    tracker.followup_action = followup
    tracker.latest_action = dict(self.latest_action) if self.latest_action is not None else None
    tracker.latest_message = self.latest_message
    tracker.latest_bot_utterance = self.latest_bot_utterance
    tracker.active_loop = copy.copy(self.active_loop)
    tracker.model_id = None
    tracker.assistant_id = None
    return tracker


@lru_cache(maxsize=1)
def _empty_domain_description() -> dict[str, Any]:
    return Domain.empty().as_dict()


def _domain_is_empty(self: Domain) -> bool:
    """Domain.is_empty, comparing with an empty domain's description made once (it never changes)."""
    return bool(self.as_dict() == _empty_domain_description())


_rasa_applied_events = DialogueStateTracker.applied_events
_APPLIED = "_hearth_applied"  # a tracker's attribute: its applied events as last worked out (_Applied)


class _Applied:
    __slots__ = ("applied", "count", "events", "last", "loop_names")

    def __init__(self, events: Any, applied: list[Any]) -> None:
        self.events = events  # the tracker's deque of events they were worked out from
        self.count = len(events)  # how many of its events
        self.last = events[-1] if events else None  # the newest of them
        self.loop_names = {e.name for e in events if isinstance(e, ActiveLoop) and e.name}
        self.applied = list(applied)


def _apply(tracker: DialogueStateTracker, event: Any, applied: list[Any], loop_names: set[str]) -> None:
    """One step of Rasa's DialogueStateTracker.applied_events (3.6), on the applied events so far."""
    if isinstance(event, (Restarted, SessionStarted)):
        applied.clear()
    elif isinstance(event, ActionReverted):
        tracker._undo_till_previous(ActionExecuted, applied)
    elif isinstance(event, UserUtteranceReverted):
        tracker._undo_till_previous(UserUttered, applied)
        tracker._undo_till_previous(ActionExecuted, applied)
    elif (
        isinstance(event, ActionExecuted)
        and event.action_name in loop_names
        and not tracker._first_loop_execution_or_unhappy_path(event.action_name, applied)
    ):
        tracker._undo_till_previous_loop_execution(event.action_name, applied)
    else:
        applied.append(event)


def _applied_events(self: DialogueStateTracker) -> list[Any]:
    """DialogueStateTracker.applied_events, continued from this tracker's last answer when its events have only grown
    since (the same deque, the events counted then still in place) and no new form name came (Rasa decides whether a
    form's run is a repeated one knowing every form name of the tracker's events). Otherwise, and for trackers of other
    kinds or with a cap on their events, Rasa's own."""
    events = self.events
    if type(self) is not DialogueStateTracker or self._max_event_history is not None:
        return _rasa_applied_events(self)
    kept: _Applied | None = self.__dict__.get(_APPLIED)
    if (
        kept is not None
        and kept.events is events
        and kept.count <= len(events)
        and (kept.count == 0 or events[kept.count - 1] is kept.last)
    ):
        new = list(islice(events, kept.count, None))
        if all(not isinstance(e, ActiveLoop) or not e.name or e.name in kept.loop_names for e in new):
            for event in new:
                _apply(self, event, kept.applied, kept.loop_names)
            kept.count, kept.last = len(events), (events[-1] if events else None)
            return list(kept.applied)
    applied = _rasa_applied_events(self)
    self.__dict__[_APPLIED] = _Applied(events, applied)
    return applied


class _CopyForDebugLines:
    """Stands in for the `copy` module in Rasa modules that deep-copy only what they pass to structlog's debug."""

    @staticmethod
    def deepcopy(value: Any) -> Any:
        wrapper = structlog.get_config()["wrapper_class"]
        quiet = {
            structlog.make_filtering_bound_logger(level) for level in (logging.INFO, logging.WARNING, logging.ERROR)
        }
        return value if wrapper in quiet else copy.deepcopy(value)


def _features_fingerprint(self: Features) -> str:
    """Features.fingerprint from the arrays' bytes (Rasa's formats each entry of a sparse matrix as text)."""
    if self._cached_fingerprint is None:
        digest = hashlib.md5(usedforsecurity=False)
        digest.update(repr((self.type, self.origin, self.attribute, self.is_dense())).encode())
        if self.is_dense():
            parts = [np.ascontiguousarray(self.features)]
        else:
            matrix = self.features.tocsr(copy=True)
            matrix.sum_duplicates()  # also sorts the indices: one form for equal matrices
            matrix.eliminate_zeros()
            parts = [matrix.indptr.astype(np.int64), matrix.indices.astype(np.int64), matrix.data]
        for part in parts:
            digest.update(repr((part.dtype.str, part.shape)).encode())
            digest.update(part.tobytes())
        digest.update(repr(self.features.shape).encode())
        self._cached_fingerprint = digest.hexdigest()
    return self._cached_fingerprint


def _checked_request_init(self: Request, *args: Any, **kwargs: Any) -> None:
    """Sanic builds the Request before it reads the body's length from it: refused here, the error becomes
    Sanic's own 400 (its error handler builds a bare request without headers to answer it)."""
    _request_init(self, *args, **kwargs)
    lengths = self.headers.getall("content-length", [])
    if any(not (value.isascii() and value.isdigit()) for value in lengths) or len(set(lengths)) > 1:
        raise InvalidUsage("Bad Request: Content-Length must be one non-negative whole number")


_engineio_decode = engineio_packet.Packet.decode


def _decode_or_noop(self: engineio_packet.Packet, encoded_packet: Any) -> None:
    """An Engine.IO packet that cannot be decoded, or names no packet type, becomes a NOOP: the socket's
    receive loop ignores it (over long-polling the client gets a 400 and is disconnected)."""
    try:
        _engineio_decode(self, encoded_packet)
        if 0 <= self.packet_type < len(engineio_packet.packet_names):
            return
        problem = f"unknown packet type {self.packet_type}"
    except (ValueError, IndexError, TypeError) as exc:
        problem = str(exc) or type(exc).__name__
    log.warning("web chat: a malformed Engine.IO packet was dropped (%s)", problem)
    self.packet_type, self.data, self.binary = engineio_packet.NOOP, None, False


def _socketio_message_guard(handle: Any) -> Any:
    async def handle_eio_message(self: Any, eio_sid: str, data: Any) -> Any:
        try:
            return await handle(self, eio_sid, data)
        except (ValueError, IndexError, KeyError, TypeError) as exc:  # python-socketio's decoding and checks
            log.warning("web chat: a malformed Socket.IO packet was dropped (%s)", exc)
            return None

    return handle_eio_message


_jwt_decode = Authentication._decode
JWT_LEEWAY = 10  # seconds a JWT's expiry may be past (clocks that differ); sanic-jwt's default is 180
# what sanic-jwt's own check turns into a 401 (Authentication._verify); every other refusal of PyJWT escaped it
_JWT_ERRORS_ANSWERED = (
    jwt.exceptions.DecodeError,
    jwt.exceptions.ExpiredSignatureError,
    jwt.exceptions.InvalidIssuerError,
    jwt.exceptions.ImmatureSignatureError,
    jwt.exceptions.InvalidIssuedAtError,
    jwt.exceptions.InvalidAudienceError,
)


async def _decode_or_refuse(self: Authentication, token: str, verify: bool = True, inline_claims: Any = None) -> Any:
    """sanic-jwt's decoding, with every token PyJWT refuses, and one without an expiry, refused as a bad signature
    is (DecodeError: 401 "User is not authenticated.")."""
    try:
        payload = await _jwt_decode(self, token, verify=verify, inline_claims=inline_claims)
    except jwt.exceptions.InvalidTokenError as exc:
        if isinstance(exc, _JWT_ERRORS_ANSWERED):
            raise
        raise jwt.exceptions.DecodeError(f"{type(exc).__name__}: {exc}") from None
    if verify:
        expiry = payload.get("exp") if isinstance(payload, dict) else None
        if not isinstance(expiry, (int, float)):  # PyJWT has checked that a present one is a number
            raise jwt.exceptions.DecodeError("the token has no expiry (exp)")
        if expiry < time.time() - JWT_LEEWAY:
            raise jwt.exceptions.ExpiredSignatureError("Signature has expired")
    return payload


def apply() -> None:
    import socketio

    engineio_packet.Packet.decode = _decode_or_noop  # type: ignore[method-assign]
    # patched on the class before Rasa creates its server, which binds the method when it is built
    socketio.AsyncServer._handle_eio_message = _socketio_message_guard(socketio.AsyncServer._handle_eio_message)  # type: ignore[method-assign]
    Request.__init__ = _checked_request_init  # type: ignore[method-assign]
    Authentication._decode = _decode_or_refuse  # type: ignore[method-assign]
    rasa_actions.RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
    rasa_actions.RemoteAction.run = _run_or_apologise  # type: ignore[method-assign]
    EndpointConfig.session = _kept_session  # type: ignore[assignment,method-assign]
    DaskGraphRunner.run = _run_graph  # type: ignore[method-assign]
    TrackerFeaturizer._create_states = staticmethod(_kept_states)  # type: ignore[method-assign,assignment]
    rule_policy.RulePolicy._get_possible_keys = _possible_rule_keys  # type: ignore[method-assign]
    rule_policy.RulePolicy.load = classmethod(_loaded_rule_policy)  # type: ignore[method-assign,assignment]
    DialogueStateTracker.copy = _tracker_copy  # type: ignore[method-assign]
    Domain.is_empty = _domain_is_empty  # type: ignore[method-assign]
    DialogueStateTracker.applied_events = _applied_events  # type: ignore[method-assign]
    for module in (rule_policy, memoization, processor, forms):  # their only use of `copy`: debug lines' arguments
        module.copy = _CopyForDebugLines  # type: ignore[attr-defined]
    Features.fingerprint = _features_fingerprint  # type: ignore[method-assign]


apply()
