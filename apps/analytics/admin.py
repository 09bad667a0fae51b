"""Analytics in the admin: request logs, error logs, endpoint and regional counters. Read-only, staff only.

The log lists read the SQL log tables (with ``LOGS_STORE=cassandra`` they stay empty: the dashboard's
selectors read Cassandra). Search takes a user's email (exact), a request id or an endpoint name;
filters: endpoint, status, date. Lists skip the full COUNT(*) of tables that grow with traffic.
"""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.accounts.selectors import user_email_subquery, user_ids_by_email
from apps.analytics.models import EndpointCounter, ErrorLog, RegionalCounter, RequestLog
from apps.analytics.selectors import endpoint_names


class ReadOnlyStaffAdmin(admin.ModelAdmin):
    """Every active staff member may look; nobody may add, change or delete (the actor writes)."""

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_active and request.user.is_staff

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class EndpointFilter(admin.SimpleListFilter):
    """The endpoints the counters know (a small table), not a DISTINCT over the logs."""

    title = "endpoint"
    parameter_name = "endpoint"

    def lookups(self, request, model_admin):
        return [(name, name) for name in endpoint_names()]

    def queryset(self, request, queryset):
        return queryset.filter(endpoint=self.value()) if self.value() else queryset


class LogAdmin(ReadOnlyStaffAdmin):
    list_filter = (EndpointFilter, "status", "method", ("time", admin.DateFieldListFilter))
    search_fields = ("request_id",)
    search_help_text = "A user's email (exact), a request id, or an endpoint name."
    ordering = ("-time", "-id")
    show_full_result_count = False
    list_per_page = 100

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(user_email=user_email_subquery("user_id"))

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        term = search_term.strip()
        if "@" in term:
            found = user_ids_by_email(emails=[term])
            return queryset.filter(user_id__in=list(found.values())), False
        if term:
            return queryset.filter(request_id=term) | queryset.filter(endpoint=term), False
        return queryset, False

    @admin.display(description="user", ordering="user_email")
    def user(self, log) -> str:
        return log.user_email or ("-" if log.user_id is None else f"#{log.user_id} (deleted)")


@admin.register(RequestLog)
class RequestLogAdmin(LogAdmin):
    list_display = ("time", "method", "endpoint", "status", "duration_ms", "user", "app_version", "request_id")


@admin.register(ErrorLog)
class ErrorLogAdmin(LogAdmin):
    list_display = ("time", "method", "endpoint", "status", "error_code", "user", "summary", "request_id")


@admin.register(EndpointCounter)
class EndpointCounterAdmin(ReadOnlyStaffAdmin):
    list_display = ("start", "period", "method", "endpoint", "requests", "s2xx", "s3xx", "s4xx", "s5xx", "mean_ms")
    list_filter = ("period", EndpointFilter, "method", ("start", admin.DateFieldListFilter))
    ordering = ("-start", "endpoint", "method")

    @admin.display(description="mean ms")
    def mean_ms(self, row: EndpointCounter) -> str:
        return f"{row.duration_ms / row.requests:.1f}" if row.requests else "-"


@admin.register(RegionalCounter)
class RegionalCounterAdmin(ReadOnlyStaffAdmin):
    list_display = ("start", "period", "region", "metric", "sent", "received")
    list_filter = ("period", "region", "metric", ("start", admin.DateFieldListFilter))
    ordering = ("-start", "region", "metric")
