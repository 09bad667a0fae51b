"""django-admin-charts' views (the charts' script, data and CSV, its analytics page), staff only: each
goes through the admin's own gate, so anyone else gets the admin login and never a number."""

from admin_tools_stats import urls as charts_urls
from django.contrib import admin
from django.urls import URLPattern, path


def _staff_only(pattern: URLPattern) -> URLPattern:
    return path(str(pattern.pattern), admin.site.admin_view(pattern.callback), pattern.default_args,
                name=pattern.name)


urlpatterns = [_staff_only(pattern) for pattern in charts_urls.urlpatterns]
