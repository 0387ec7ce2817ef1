"""The review queue of misunderstood messages (any signed-in agent or admin).

GET  /reviews?status=, POST /reviews/{id}                       misunderstood messages: label the intent
                                                                they meant, out of scope, or dismiss
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console.deps import TEMPLATES, RowId, Services, SignedIn, Text
from crm_adapter.domain import InvalidInput
from nlu_review.queue import STATUSES as REVIEW_STATUSES

BOT_DOMAIN = Path(__file__).resolve().parents[2] / "bot" / "domain"

router = APIRouter()


@lru_cache(maxsize=1)
def known_intents() -> tuple[str, ...]:
    """The bot's intents, from its domain (bot/domain/*.yml)."""
    from ruamel.yaml import YAML

    found: set[str] = set()
    for path in sorted(BOT_DOMAIN.glob("*.yml")):
        for intent in (YAML(typ="safe").load(path.read_text()) or {}).get("intents") or []:
            found.add(intent if isinstance(intent, str) else next(iter(intent)))
    return tuple(sorted(found))


@router.get("/reviews", response_class=HTMLResponse)
def review_page(request: Request, me: SignedIn, services: Services, status: Text = None) -> Response:
    chosen = status or "pending"
    items = services.review_queue().list(chosen, 200)
    context = {"items": items, "status": chosen, "statuses": REVIEW_STATUSES, "intents": known_intents()}
    return TEMPLATES.TemplateResponse(request, "reviews.html", context)


@router.post("/reviews/{review_id}", response_class=HTMLResponse)
def review_decide(
    me: SignedIn,
    services: Services,
    review_id: RowId,
    decision: Annotated[str, Form(max_length=20)] = "",
    intent: Annotated[str, Form(max_length=80)] = "",
) -> Response:
    """Label a misunderstood message: the intent it meant, out of scope, or dismiss (nonsense, personal data)."""
    queue, who = services.review_queue(), me.agent.username
    if decision == "assign":
        if intent.strip() not in known_intents() and intent.strip() != "out_of_scope":
            raise InvalidInput("intent", f"{intent.strip() or 'An empty name'} is not an intent of the bot.")
        queue.assign(review_id, intent, who)
    elif decision == "out_of_scope":
        queue.out_of_scope(review_id, who)
    elif decision == "dismiss":
        queue.dismiss(review_id, who)
    else:
        raise InvalidInput("decision", "Choose assign, out of scope or dismiss.")
    return RedirectResponse("/reviews", status_code=303)
