from django.apps import AppConfig


class DashboardConfig(AppConfig):
    """Its own app (label ``dashboard``) so its chart migrations never collide with analytics' own. Listed
    before admin_tools_stats: its admin.py imports the package's admin first, then replaces it."""

    name = "apps.analytics.dashboard"
    label = "dashboard"
    verbose_name = "Dashboard"
