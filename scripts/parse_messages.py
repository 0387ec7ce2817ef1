"""Parses messages with a trained model, in Rasa's virtualenv: a JSON list of texts on stdin, a JSON list of
{"text", "intent", "confidence", "faq_key", "faq_confidence"} on stdout (scripts/bench_knowledge.py uses it).

    .venvs/rasa/bin/python scripts/parse_messages.py MODEL.tar.gz < texts.json
    .venvs/rasa/bin/python scripts/parse_messages.py MODEL.tar.gz --timings < texts.json

With --timings it prints how long each parse took instead: {"count", "p50_ms", "p95_ms", "mean_ms"}, every text
parsed one after another through the loaded model, after one parse to warm up (scripts/bench_speed.py uses it).
"""

from __future__ import annotations

import asyncio
import json
import logging
import statistics
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
            durations.append((time.perf_counter() - started) * 1000)
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
    texts = json.load(sys.stdin)
    if "--timings" not in sys.argv[2:]:
        print(json.dumps(asyncio.run(parse_all(sys.argv[1], texts))))
        raise SystemExit(0)
    durations: list[float] = []
    asyncio.run(parse_all(sys.argv[1], texts, durations))
    ordered = sorted(durations)
    print(json.dumps({
        "count": len(ordered),
        "p50_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))], 2),
        "mean_ms": round(statistics.fmean(ordered), 2),
    }))  # fmt: skip
