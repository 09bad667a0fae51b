"""The dashboard pages under /admin/dashboard/, staff only (the admin's own gate: anyone else gets its login)."""

from django.contrib import admin
from django.urls import path

from apps.analytics.dashboard.views import PAGES

app_name = "dashboard"
urlpatterns = [path(f"{page.slug}/", admin.site.admin_view(page.as_view()), name=page.slug) for page in PAGES]
