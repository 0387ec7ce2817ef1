"""Parses messages with a trained model, in Rasa's virtualenv: a JSON list of texts on stdin, a JSON list of
{"text", "intent", "confidence", "faq_key", "faq_confidence"} on stdout (scripts/bench_knowledge.py uses it).

    .venvs/rasa/bin/python scripts/parse_messages.py MODEL.tar.gz < texts.json
    .venvs/rasa/bin/python scripts/parse_messages.py MODEL.tar.gz --timings --from-nlu docs/nlu-real-customers-set.yml

With --timings it prints how long each parse took instead (a JSON list of seconds), every text parsed one after
another through the loaded model, after one parse to warm up (scripts/bench_speed.py uses it). --from-nlu takes the
texts from a Rasa NLU file instead of standard input.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


async def parse_all(model: str, texts: list[str], durations: list[float] | None = None) -> list[dict[str, object]]:
    from rasa.core.agent import Agent

    agent = Agent.load(model)
    await agent.parse_message("hello")
    out = []
    for text in texts:
        started = time.perf_counter()
        parsed = await agent.parse_message(text)
        if durations is not None:
            durations.append(time.perf_counter() - started)
        intent = parsed.get("intent") or {}
        faq = ((parsed.get("response_selector") or {}).get("faq") or {}).get("response") or {}
        key = faq.get("intent_response_key") or ""
        out.append(
            {
                "text": text,
                "intent": intent.get("name"),
                "confidence": intent.get("confidence"),
                "faq_key": key.split("/", 1)[1] if "/" in key else None,
                "faq_confidence": faq.get("confidence"),
            }
        )
    return out


def nlu_texts(path: str) -> list[str]:
    """The example texts of a Rasa NLU file, entity markup removed, by Rasa's own loader."""
    from rasa.shared.nlu.training_data.loading import load_data

    return [str(m.get("text")) for m in load_data(path).intent_examples]


if __name__ == "__main__":
    logging.disable(logging.WARNING)
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.INFO)  # as `rasa run` does by default: debug lines dropped, not printed
    args = sys.argv[2:]
    texts = nlu_texts(args[args.index("--from-nlu") + 1]) if "--from-nlu" in args else json.load(sys.stdin)
    if "--timings" not in args:
        print(json.dumps(asyncio.run(parse_all(sys.argv[1], texts))))
        raise SystemExit(0)
    durations: list[float] = []
    asyncio.run(parse_all(sys.argv[1], texts, durations))
    print(json.dumps(durations))
