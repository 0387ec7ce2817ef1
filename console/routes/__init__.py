"""The console's routes, one `APIRouter` per area; `create_app` includes them in this order."""

from console.routes import analytics, audit, auth, customers, handoffs, home, knowledge, reviews, static

ROUTERS = (
    home.router,
    static.router,
    auth.router,
    analytics.router,
    handoffs.router,
    customers.router,
    knowledge.router,
    reviews.router,
    audit.router,
)
