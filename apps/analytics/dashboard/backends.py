"""Who may look at the charts: every active staff member (the admin lets only them in anyway)."""

VIEW_CHARTS = "admin_tools_stats.view_dashboardstats"


class StaffSeeChartsBackend:
    """Grants django-admin-charts' one read permission (``view_dashboardstats``: see every chart and its
    data) to active staff; it authenticates nobody. Changing charts stays with superusers
    (chart_admin.py)."""

    def authenticate(self, request, **credentials) -> None:
        return None

    def has_perm(self, user_obj, perm: str, obj=None) -> bool:
        return perm == VIEW_CHARTS and user_obj.is_active and user_obj.is_staff

    def has_module_perms(self, user_obj, app_label: str) -> bool:
        return app_label == "admin_tools_stats" and user_obj.is_active and user_obj.is_staff
