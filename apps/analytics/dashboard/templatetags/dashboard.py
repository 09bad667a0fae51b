"""The dashboard's pages for the admin index (its list of links)."""

from django import template

register = template.Library()


@register.simple_tag
def dashboard_pages() -> list:
    from apps.analytics.dashboard.views import PAGES

    return PAGES
