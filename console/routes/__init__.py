"""The console's routes, one `APIRouter` per area; `create_app` includes them in this order."""

from console.routes import analytics, auth, handoffs, home, knowledge, reviews

ROUTERS = (home.router, auth.router, analytics.router, handoffs.router, knowledge.router, reviews.router)
