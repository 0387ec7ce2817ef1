"""The names the console imports from here (console/app.py); their homes are analytics/metrics.py and
analytics/service.py."""

from analytics.metrics import TIERS, Filters, Report, days_of
from analytics.service import SqlAnalytics

__all__ = ["TIERS", "Filters", "Report", "SqlAnalytics", "days_of"]
