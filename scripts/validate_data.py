"""`rasa data validate --fail-on-warnings`, with Rasa's own validator, aware of forms and custom actions.

Rasa 3.6's validator reports every response that is sent by a custom action or asked by
a form (`utter_ask_<slot>`) as "not used in any story or rule", so no bot with forms or
custom actions passes `--fail-on-warnings`. This runs the real `rasa data validate` with
one change: responses that the code in actions/ sends (found by reading the code for
`response="utter_..."`, including f-string prefixes such as `utter_order_status_{...}`) and
form questions count as used. It also adds the check Rasa lacks: a response name used in
actions/ that the domain does not define is an error.

Run with the Rasa environment's Python from the project root:
    .venvs/rasa/bin/python scripts/validate_data.py
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_STATIC = re.compile(r"""(?<![f\w])["'](utter_[A-Za-z0-9_/]+)["']""")
_PREFIX = re.compile(r"""\bf["'](utter_[A-Za-z0-9_]*)\{""")
# sent by Rasa's own default actions
_RASA_DEFAULTS = {"utter_default"}
# quoted in actions/ but not a response: Rasa's metadata key naming the response a bot message came from
_NOT_RESPONSES = {"utter_action"}


def responses_sent_by_code(actions_dir: Path = ROOT / "actions") -> tuple[set[str], set[str]]:
    names: set[str] = set()
    prefixes: set[str] = set()
    for path in sorted(actions_dir.rglob("*.py")):
        text = path.read_text()
        names.update(_STATIC.findall(text))
        prefixes.update(_PREFIX.findall(text))
    return (names - _NOT_RESPONSES) | _RASA_DEFAULTS, prefixes


def main() -> None:
    import rasa.validator
    from rasa.__main__ import main as rasa_main
    from rasa.shared.core.events import ActionExecuted

    static_names, prefixes = responses_sent_by_code()

    class FormAndActionAwareValidator(rasa.validator.Validator):
        def _sent_outside_stories(self) -> set[str]:
            responses = set(self.domain.responses)
            sent = {r for r in responses if r in static_names or any(r.startswith(p) for p in prefixes)}
            for form, spec in self.domain.forms.items():
                for slot in spec.get("required_slots", []):
                    sent.update({f"utter_ask_{slot}", f"utter_ask_{form}_{slot}"} & responses)
            in_stories = {
                e.action_name
                for step in self.story_graph.story_steps
                for e in step.events
                if isinstance(e, ActionExecuted) and e.action_name
            }
            return sent - in_stories

        def _gather_utterance_actions(self) -> set[str]:
            return super()._gather_utterance_actions() - self._sent_outside_stories()

        def verify_utterances_in_stories(self, ignore_warnings: bool = True) -> bool:
            ok = super().verify_utterances_in_stories(ignore_warnings)
            missing = sorted(static_names - set(self.domain.responses))
            missing += sorted(p + "*" for p in prefixes if not any(r.startswith(p) for r in self.domain.responses))
            for name in missing:
                print(f"ERROR: actions/ sends the response '{name}', which the domain does not define", file=sys.stderr)
            return ok and not missing

    rasa.validator.Validator = FormAndActionAwareValidator  # type: ignore[misc]
    sys.argv = [
        "rasa",
        "data",
        "validate",
        "--fail-on-warnings",
        "--domain",
        str(ROOT / "bot" / "domain"),
        "--data",
        str(ROOT / "data"),
        "--config",
        str(ROOT / "config.yml"),
    ] + sys.argv[1:]
    rasa_main()


if __name__ == "__main__":
    main()
