"""django-admin-charts' views (the charts' script, data and CSV, its analytics page), staff only: each
goes through the admin's own gate, so anyone else gets the admin login and never a number. The data
and CSV views are ours (chart_views.py): the same, plus the computed charts."""

from admin_tools_stats import urls as charts_urls
from admin_tools_stats import views as charts_views
from django.contrib import admin
from django.urls import URLPattern, path

from apps.analytics.dashboard import chart_views

OURS = {
    charts_views.ChartDataView: chart_views.ChartDataView,
    charts_views.ChartDataCSVView: chart_views.ChartDataCSVView,
}


def _staff_only(pattern: URLPattern) -> URLPattern:
    view = pattern.callback
    view_class = getattr(view, "view_class", None)
    if view_class in OURS:
        view = OURS[view_class].as_view(**getattr(view, "view_initkwargs", {}))
    return path(str(pattern.pattern), admin.site.admin_view(view), pattern.default_args, name=pattern.name)


urlpatterns = [_staff_only(pattern) for pattern in charts_urls.urlpatterns]
