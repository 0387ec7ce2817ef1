"""A dialogue policy that brings in a person when a customer is upset.

The channel connectors score every message's sentiment (VADER's compound score, in the message metadata:
bot/channels.py). When the customer's latest message is strongly negative (at or below `threshold`),
this policy predicts `action_request_human` -- the same action as asking for a person, which says why
and queues the conversation -- whatever the rules would have done next, and tells that action why in the
`handoff_reason` slot. It stays out of the way when a
person is already involved (a handoff is open), when the customer asked for one anyway, while they tell
the complaint form what went wrong (complaints are negative; they are filed), and on the button payloads
and commands that carry no words. It learns nothing from the training data.
"""

from __future__ import annotations

from typing import Any

from rasa.core.policies.policy import Policy, PolicyPrediction, SupportedData
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

from bot.channels import SENTIMENT_KEY

# Asking for a person is handled by its own rules; a complaint is expected to be negative and is filed (a
# high-value customer's goes to a person anyway: actions/service.py).
NOT_ESCALATED = frozenset({"request_human", "complain", "restart", "session_start", "stop"})


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True)
class EscalationPolicy(Policy):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # Above RulePolicy (6): when both are sure, the customer's feelings come first.
        return {
            "priority": 7,
            "threshold": -0.6,
            "action": "action_request_human",
            "handoff_slot": "handoff_id",
            "reason_slot": "handoff_reason",
            "skip_loops": ["complaint_form", "handoff_message_form"],  # telling us what went wrong; leaving a message
        }

    @staticmethod
    def supported_data() -> SupportedData:
        return SupportedData.ML_AND_RULE_DATA

    def train(self, training_trackers: list[TrackerWithCachedStates], domain: Domain, **kwargs: Any) -> Resource:
        return self._resource  # nothing to learn

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        probabilities = self._default_predictions(domain)
        if not self.upset(tracker):
            return self._prediction(probabilities)
        probabilities[domain.index_for_action(self.config["action"])] = 1.0
        return self._prediction(
            probabilities, optional_events=[SlotSet(self.config["reason_slot"], "negative_sentiment")]
        )

    def upset(self, tracker: DialogueStateTracker) -> bool:
        """The customer's message just arrived, is strongly negative, and nobody has brought in a person yet."""
        latest = tracker.latest_message
        if tracker.latest_action_name != ACTION_LISTEN_NAME or latest is None:
            return False
        if latest.intent.get("name") in NOT_ESCALATED or tracker.get_slot(self.config["handoff_slot"]):
            return False
        if tracker.active_loop_name in self.config["skip_loops"]:
            return False
        score = (latest.metadata or {}).get(SENTIMENT_KEY)
        return isinstance(score, int | float) and score <= float(self.config["threshold"])
