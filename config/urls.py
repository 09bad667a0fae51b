"""Root URLs: the API under /api/v1/, its schema and docs, OAuth, admin, health."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from apps.common.schema import SchemaFormatNegotiation
from apps.common.views import ServerTimeApi, favicon, health, media

api_v1 = [
    path("", include("apps.social.urls")),  # before accounts: users/<id>/follow etc.
    path("", include("apps.posts.urls")),
    path("", include("apps.accounts.urls")),
    path("", include("apps.dispense.urls")),
    path("", include("apps.ranking.urls")),
    path("", include("apps.notifications.urls")),
    path("time", ServerTimeApi.as_view(), name="server-time"),
]

urlpatterns = [
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(content_negotiation_class=SchemaFormatNegotiation), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    re_path(r"^health/?$", health, name="health"),  # with or without the slash: no redirect, even for POST
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
    # The dashboard (apps/analytics/dashboard): charts' views and the dashboard pages, staff only, before
    # the admin's catch-all.
    path("admin/charts/", include("apps.analytics.dashboard.charts_urls")),
    path("admin/dashboard/", include("apps.analytics.dashboard.urls")),
    path("admin/", admin.site.urls),
    path("favicon.ico", favicon, name="favicon"),  # no icon: 204, not a 404 in every browser's console
]

# Local-disk media, served by Django only while SERVE_MEDIA is on (checked per request); production serves
# it from a proxy or a bucket behind a CDN (docs/deployment.md, "Media storage").
_media_prefix = settings.MEDIA_URL.lstrip("/")
if _media_prefix and "://" not in settings.MEDIA_URL:
    urlpatterns.append(re_path(rf"^{_media_prefix}(?P<path>.*)$", media, name="media"))

handler400 = "apps.common.views.json_400"
handler403 = "apps.common.views.json_403"
handler404 = "apps.common.views.json_404"
handler500 = "apps.common.views.json_500"
