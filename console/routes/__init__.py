"""The console's routes, one `APIRouter` per area; `create_app` includes them in this order."""

from console.routes import analytics, auth, handoffs, home, reviews

ROUTERS = (home.router, auth.router, analytics.router, handoffs.router, reviews.router)
