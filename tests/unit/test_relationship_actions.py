"""Consent questions, surveys, preference proposals and privacy requests in the conversation, on the
in-memory CRM and relationship (tests/fakes/); and the pure rules behind them (statements, evidence, value,
sentiment, scores)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from actions.orders import ActionListOrders
from actions.relationship import ActionAnswerPending, ActionGoodbye, ActionPrivacyRequest
from relationship import preferences, sentiment, value
from relationship.surveys import Score, parse_score
from shared import sentiment as scorer
from tests.bot import responses, run, slots_set, tracker
from tests.factories import NOW

pytestmark = pytest.mark.unit


def asked(response: str) -> list[dict]:
    """The bot's question, then the customer's answer (the tracker helper adds the answer)."""
    return [{"event": "bot", "text": "?", "metadata": {"utter_action": response}}]


def me(customer_id: str, **slots):
    return {"verified": True, "customer_id": customer_id, "customer_first_name": "Greta", **slots}


def test_a_verified_request_is_followed_by_the_first_consent_question_once(crm):
    greta = crm.arrange.add_customer()
    crm.arrange.add_order(greta, "JH410001")
    events, messages = run(ActionListOrders(), tracker(slots=me(greta), channel="socketio"))
    assert responses(messages) == ["utter_orders_list", "utter_ask_consent_history"]
    assert slots_set(events) == {"consent_asked": True, "awaiting": "consent_history"}
    _, messages = run(ActionListOrders(), tracker(slots=me(greta, consent_asked=True), channel="socketio"))
    assert responses(messages) == ["utter_orders_list"]  # once per conversation


def test_consent_answers_are_recorded_one_purpose_at_a_time(crm):
    greta = crm.arrange.add_customer()
    events, messages = run(
        ActionAnswerPending(),
        tracker(slots=me(greta, awaiting="consent_history"), intent="deny", events=asked("utter_ask_consent_history")),
    )
    assert responses(messages) == ["utter_ask_consent_service"]
    assert slots_set(events) == {"awaiting": "consent_service"}
    run(
        ActionAnswerPending(),
        tracker(
            slots=me(greta, awaiting="consent_service"), intent="affirm", events=asked("utter_ask_consent_service")
        ),
    )
    events, messages = run(
        ActionAnswerPending(),
        tracker(
            slots=me(greta, awaiting="consent_marketing"), intent="deny", events=asked("utter_ask_consent_marketing")
        ),  # fmt: skip
    )
    assert responses(messages) == ["utter_consents_saved"] and slots_set(events)["awaiting"] is None
    rows = sorted((c.purpose, c.granted) for c in crm.relationship_store.consents)
    assert rows == [("history", False), ("marketing", False), ("service", True)]


def test_a_yes_to_an_older_question_consents_to_nothing(crm):
    greta = crm.arrange.add_customer()
    stale = asked("utter_ask_consent_marketing") + [
        {"event": "user", "text": "where is my order", "parse_data": {"intent": {"name": "order_status"}}},
        {"event": "bot", "text": "It's on its way.", "metadata": {"utter_action": "utter_order_status_shipped"}},
    ]
    events, messages = run(
        ActionAnswerPending(), tracker(slots=me(greta, awaiting="consent_marketing"), intent="affirm", events=stale)
    )
    assert responses(messages) == ["utter_anything_else"] and slots_set(events) == {"awaiting": None}
    assert crm.relationship_store.consents == []


def test_goodbye_asks_for_a_rating_only_after_a_served_request_and_once(crm):
    greta = crm.arrange.add_customer()
    served = [{"event": "user", "text": "where is it", "parse_data": {"intent": {"name": "order_status"}}}]
    _, messages = run(ActionGoodbye(), tracker(slots=me(greta), intent="goodbye"))
    assert responses(messages) == ["utter_goodbye"]  # only small talk: nothing to rate
    events, messages = run(ActionGoodbye(), tracker(slots=me(greta), intent="goodbye", events=served))
    assert responses(messages) == ["utter_ask_csat"]
    assert slots_set(events) == {"survey_asked": True, "nps_due": True, "awaiting": "csat"}
    _, messages = run(ActionGoodbye(), tracker(slots=me(greta, survey_asked=True), intent="goodbye", events=served))
    assert responses(messages) == ["utter_goodbye"]
    crm.clock.advance(hours=1)  # another conversation the same day
    _, messages = run(ActionGoodbye(), tracker(slots=me(greta), intent="goodbye", events=served))
    assert responses(messages) == ["utter_goodbye"]


def test_a_rating_with_a_comment_then_nps(crm):
    greta = crm.arrange.add_customer()
    handed = asked("utter_ask_csat") + [{"event": "action", "name": "action_request_human"}]
    events, messages = run(
        ActionAnswerPending(),
        tracker(
            slots=me(greta, awaiting="csat", nps_due=True),
            intent="rate",
            text="2 - slow, had to repeat myself",
            events=asked("utter_human_callback") + handed,
        ),  # fmt: skip
    )
    assert responses(messages) == ["utter_ask_nps"] and slots_set(events)["awaiting"] == "nps"
    events, messages = run(
        ActionAnswerPending(),
        tracker(slots=me(greta, awaiting="nps"), intent="inform", text="eleven? ok 7", events=asked("utter_ask_nps")),
    )
    assert responses(messages) == ["utter_feedback_thanks"]
    _, messages = run(
        ActionAnswerPending(),
        tracker(slots=me(greta, awaiting="csat"), intent="rate", text="great", events=asked("utter_ask_csat")),
    )
    assert responses(messages) == ["utter_ask_score_again"]
    rows = [(f.kind, f.score, f.resolution, f.comment) for f in crm.relationship_store.feedback]
    assert rows == [("csat", 2, "person", "slow, had to repeat myself"), ("nps", 7, None, None)]


def test_a_proposal_is_stored_only_on_yes(crm):
    greta = crm.arrange.add_customer()
    for day in range(2, 7):
        crm.history.add_conversation(greta, "twilio", "whatsapp:+447700900001", datetime(2026, 11, day, 20, 0))
    events, messages = run(ActionListOrders(), tracker(slots=me(greta, consent_asked=True)))
    assert responses(messages) == ["utter_no_orders", "utter_ask_preferences"]
    assert messages[1]["description"] == "you usually message us in the evening on WhatsApp"
    proposal = slots_set(events)["proposal"]
    _, messages = run(
        ActionAnswerPending(),
        tracker(
            slots=me(greta, awaiting="preferences", proposal=proposal),
            intent="deny",
            events=asked("utter_ask_preferences"),
        ),  # fmt: skip
    )
    assert responses(messages) == ["utter_preferences_not_saved"]
    assert crm.relationship_store.preferences == []
    run(
        ActionAnswerPending(),
        tracker(
            slots=me(greta, awaiting="preferences", proposal=proposal),
            intent="affirm",
            events=asked("utter_ask_preferences"),
        ),  # fmt: skip
    )
    saved = [(p.key, p.value, p.source) for p in crm.relationship_store.preferences]
    assert sorted(saved) == [("channel", "whatsapp", "observed"), ("time_of_day", "evening", "observed")]


def test_erasure_after_an_order_number_alone_needs_the_code_sent_to_the_address_on_file(crm, tmp_path, monkeypatch):
    """An order number travels on receipts: it alone must not be enough to delete someone's account."""
    monkeypatch.setenv("HEARTH_DATA_DIR", str(tmp_path))
    greta = crm.arrange.add_customer(first_name="Greta", email="greta@example.com")
    base = me(greta, consent_asked=True, verified_by="order")

    events, messages = run(ActionPrivacyRequest(), tracker(slots={**base, "privacy_request": "erase"}))

    assert responses(messages) == ["utter_erase_code_sent", "utter_ask_erase_code"]
    assert messages[0]["email"] == "g***@example.com" and slots_set(events)["awaiting"] == "erase_code"
    code = crm.codes.last_code_for("greta@example.com")
    state = {**base, "awaiting": "erase_code"}
    wrong = "111111" if code != "111111" else "222222"
    for attempt in (1, 2):
        events, messages = run(
            ActionAnswerPending(),
            tracker(slots=state, text=wrong, entities=[("otp_code", wrong)], events=asked("utter_ask_erase_code")),
        )
        assert responses(messages) == ["utter_erase_code_wrong", "utter_ask_erase_code"]
        assert slots_set(events) == {"identity_attempts": attempt}
        state = {**state, "identity_attempts": float(attempt)}
    events, messages = run(
        ActionAnswerPending(),
        tracker(slots=state, text=wrong, entities=[("otp_code", wrong)], events=asked("utter_ask_erase_code")),
    )
    assert responses(messages) == ["utter_erase_code_locked"] and slots_set(events)["awaiting"] is None
    assert crm.relationship_store.privacy_jobs == [] and greta in crm.store.customers


def test_with_the_code_an_erasure_asks_are_you_sure_as_always(crm, tmp_path, monkeypatch):
    monkeypatch.setenv("HEARTH_DATA_DIR", str(tmp_path))
    greta = crm.arrange.add_customer(first_name="Greta", email="greta@example.com")
    base = me(greta, consent_asked=True, verified_by="order")
    run(ActionPrivacyRequest(), tracker(slots={**base, "privacy_request": "erase"}))
    code = crm.codes.last_code_for("greta@example.com")

    events, messages = run(
        ActionAnswerPending(),
        tracker(
            slots={**base, "awaiting": "erase_code"},
            text=f"the code is {code}",
            events=asked("utter_ask_erase_code"),
        ),
    )

    assert responses(messages) == ["utter_ask_erase"] and slots_set(events)["awaiting"] == "erase"
    assert crm.relationship_store.privacy_jobs == []  # nothing before the yes
    events, messages = run(
        ActionAnswerPending(),
        tracker(slots={**base, "awaiting": "erase"}, intent="affirm", events=asked("utter_ask_erase")),
    )
    assert responses(messages) == ["utter_erased"]
    assert [j.kind for j in crm.relationship_store.privacy_jobs] == ["erase"]


def test_privacy_requests(crm, tmp_path, monkeypatch):
    monkeypatch.setenv("HEARTH_DATA_DIR", str(tmp_path))
    greta = crm.arrange.add_customer(first_name="Greta", email="greta@example.com")
    base = me(greta, consent_asked=True)
    _, messages = run(ActionPrivacyRequest(), tracker(slots={**base, "privacy_request": "summary"}))
    assert responses(messages) == ["utter_my_data"]
    assert "greta@example.com" in messages[0]["summary"] and "Relationship score" in messages[0]["summary"]

    _, messages = run(ActionPrivacyRequest(), tracker(slots={**base, "privacy_request": "export"}))
    assert responses(messages) == ["utter_export_sent"] and messages[0]["email"] == "greta@example.com"
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1

    _, messages = run(
        ActionPrivacyRequest(),
        tracker(slots={**base, "privacy_request": "preferences", "preference_text": "text me, once a month"}),
    )
    assert responses(messages) == ["utter_preferences_saved"]
    assert messages[0]["preferences"] == "channel: sms, how often: monthly"

    events, messages = run(ActionPrivacyRequest(), tracker(slots={**base, "privacy_request": "erase"}))
    assert responses(messages) == ["utter_ask_erase"] and slots_set(events)["awaiting"] == "erase"
    events, messages = run(
        ActionAnswerPending(),
        tracker(slots={**base, "awaiting": "erase"}, intent="affirm", events=asked("utter_ask_erase")),
    )
    assert responses(messages) == ["utter_erased"] and events[-1]["event"] == "reset_slots"
    assert [j.kind for j in crm.relationship_store.privacy_jobs] == ["erase"]
    assert not list((tmp_path / "outbox").glob("*.eml"))


# ---- pure rules ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("please contact me by email", {"channel": "email"}),
        ("WhatsApp in the evenings is best", {"channel": "whatsapp", "time_of_day": "evening"}),
        ("don't contact me so often", {"frequency": "only when needed"}),
        ("text me once a month", {"channel": "sms", "frequency": "monthly"}),
        ("write to me in French, and you can be less formal", {"language": "french", "tone": "casual"}),
        ("hello", {}),
    ],
)
def test_stated_preferences(text, expected):
    assert preferences.parse_statement(text) == expected


def test_observations_need_enough_conversations_and_a_clear_habit():
    evening = datetime(2026, 11, 2, 19, 0)  # a Monday
    web = ("rest", "w", evening)
    assert preferences.observe([web] * 3) == []
    found = preferences.observe([web] * 4)
    assert {(o.key, o.value) for o in found} == {("channel", "web chat"), ("time_of_day", "evening")}
    mixed = [("rest", "w", evening + timedelta(hours=h)) for h in (0, 14, 15, 16, 17)]  # evening, morning x3...
    assert ("time_of_day", "morning") in {(o.key, o.value) for o in preferences.observe(mixed)}
    assert preferences.channel_kind("twilio", "whatsapp:+44") == "whatsapp"
    assert preferences.channel_kind("twilio", "+44") == "sms"


def test_value_tiers_and_caps():
    facts = value.ValueFacts(10_000_000, 40, 50, NOW, 10, 5.0, 7)
    top = value.compute(facts, NOW)
    assert top.score == 100.0 and top.tier == "vip"
    assert [p.points for p in top.parts] == [50.0, 25.0, 25.0]
    nobody = value.compute(value.ValueFacts(0, 0, 0, None, None, None, 0), NOW)
    assert nobody.score == 0.0 and nobody.tier == "low" and nobody.part("advocacy").reasons == ("no feedback yet",)
    detractor = value.compute(value.ValueFacts(0, 0, 0, None, 3, 1.0, 0), NOW)
    assert detractor.part("advocacy").points == 0.0


def test_sentiment_labels_and_trend():
    assert sentiment.label(scorer.score("This is the worst service ever, I am furious!!!")) == "very negative"
    assert sentiment.label(scorer.score("thanks, that was really helpful")) == "positive"
    assert scorer.score("where is my order JH123456") == 0.0 and scorer.score("  ") is None
    assert sentiment.trend([-0.8, -0.6, 0.2, 0.5, 0.7]).direction == "improving"
    assert sentiment.trend([0.6, 0.5, -0.4, -0.5]).direction == "worsening"
    assert sentiment.trend([0.1]).direction == "unknown"


def test_scores_are_read_from_buttons_digits_and_words():
    assert parse_score("/rate", 1, 5, rating="4") == Score(4, None)
    assert parse_score("5 stars, lovely", 1, 5) == Score(5, "lovely")
    assert parse_score("four out of five", 1, 5) == Score(4, None)
    assert parse_score("9/10 would buy again", 0, 10) == Score(9, "would buy again")
    assert parse_score("7", 1, 5) is None
    assert parse_score("meh", 1, 5) is None


def test_the_newsletter_is_the_marketing_consent_set_in_so_many_words(crm):
    greta = crm.arrange.add_customer(first_name="Greta", email="greta@example.com")
    base = me(greta, consent_asked=True)

    def ask(request: str) -> str:
        events, messages = run(ActionPrivacyRequest(), tracker(slots={**base, "privacy_request": request}))
        assert slots_set(events) == {"privacy_request": None, "preference_text": None}
        assert messages[0]["email"] == "greta@example.com"
        return responses(messages)[0]

    assert ask("newsletter_on") == "utter_newsletter_on"
    assert crm.relationship.consents(greta).marketing is True
    assert ask("newsletter_on") == "utter_newsletter_already_on"
    assert ask("newsletter_off") == "utter_newsletter_off"
    assert crm.relationship.consents(greta).marketing is False
    assert ask("newsletter_off") == "utter_newsletter_already_off"
    assert crm.relationship.consents(greta).history is None  # nothing else was decided for the customer


def test_with_an_external_crm_nothing_is_asked_and_data_requests_are_declined(crm):
    from hearth.container import set_relationship
    from relationship.unavailable import ExternalCrmRelationship

    set_relationship(ExternalCrmRelationship())  # what the composition root builds for CRM_BACKEND=http
    greta = crm.arrange.add_customer()
    events, messages = run(ActionListOrders(), tracker(slots=me(greta), channel="socketio"))
    assert responses(messages) == ["utter_no_orders"] and slots_set(events) == {}  # no consent question
    served = [{"event": "user", "text": "where is it", "parse_data": {"intent": {"name": "order_status"}}}]
    events, messages = run(ActionGoodbye(), tracker(slots=me(greta), intent="goodbye", events=served))
    assert responses(messages) == ["utter_goodbye"] and slots_set(events) == {"awaiting": None}  # no survey
    for request in ("summary", "export", "consents", "forget_me", "erase", "preferences", "newsletter_on"):
        slots = me(greta, privacy_request=request, preference_text="email me")
        events, messages = run(ActionPrivacyRequest(), tracker(slots=slots))
        assert responses(messages) == ["utter_consents_unavailable"]
        assert slots_set(events) == {"privacy_request": None, "preference_text": None}
