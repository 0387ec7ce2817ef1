"""Parses messages with a trained model, in Rasa's virtualenv: a JSON list of texts on stdin, a JSON list of
{"text", "intent", "confidence", "faq_key", "faq_confidence"} on stdout (scripts/bench_knowledge.py uses it).

    .venvs/rasa/bin/python scripts/parse_messages.py MODEL.tar.gz < texts.json
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


async def parse_all(model: str, texts: list[str]) -> list[dict[str, object]]:
    from rasa.core.agent import Agent

    agent = Agent.load(model)
    out = []
    for text in texts:
        parsed = await agent.parse_message(text)
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


if __name__ == "__main__":
    logging.disable(logging.WARNING)
    print(json.dumps(asyncio.run(parse_all(sys.argv[1], json.load(sys.stdin)))))
