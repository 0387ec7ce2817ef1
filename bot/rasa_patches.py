"""Performance fixes for Rasa 3.6 that change no behaviour, applied when the Rasa server loads bot/ code.

Rasa validates every action server response with `jsonschema.validate(result, schema)`,
which first checks the *schema* against its meta-schema: about 30 ms of CPU per custom
action call on this machine, for a schema that never changes. Validating with one
validator built once gives the same result (the same `ValidationError`, with Rasa's hint
appended) in about 2 ms. See docs/measurements.md (speed) for the profile.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jsonschema import ValidationError
from jsonschema.validators import validator_for
from rasa.core.actions import action as rasa_actions
from rasa.shared.constants import DOCS_BASE_URL


@lru_cache(maxsize=1)
def _response_validator() -> Any:
    schema = rasa_actions.RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)  # once, instead of once per call
    return cls(schema)


def _validate_action_result(self: rasa_actions.RemoteAction, result: dict[str, Any]) -> bool:
    try:
        _response_validator().validate(result)
        return True
    except ValidationError as e:
        e.message += (
            ". Failed to validate Action server response from API, make sure your response from the "
            f"Action endpoint is valid. For more information about the format visit {DOCS_BASE_URL}/custom-actions"
        )
        raise e


def apply() -> None:
    rasa_actions.RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]


apply()
