"""The console's routes, one `APIRouter` per area; `create_app` includes them in this order."""

from console.routes import (
    analytics,
    audit,
    auth,
    canned,
    customers,
    handoffs,
    home,
    knowledge,
    live,
    reviews,
    static,
    team,
)

ROUTERS = (
    home.router,
    static.router,
    auth.router,
    analytics.router,
    handoffs.router,
    live.router,
    customers.router,
    knowledge.router,
    canned.router,
    reviews.router,
    team.router,
    audit.router,
)
