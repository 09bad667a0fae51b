"""django-admin-charts' admin, replaced: chart definitions are for superusers to change (staff may
look), and the PostgreSQL-only Median is not offered on another database."""

from admin_tools_stats import admin as charts_admin
from admin_tools_stats.models import CachedValue, CriteriaToStatsM2M, DashboardStats, DashboardStatsCriteria
from django import forms
from django.contrib import admin
from django.db import connection

POSTGRES_ONLY_OPERATIONS = {"Median"}  # PERCENTILE_CONT: the package raises NotSupportedError elsewhere


def operations_offered(choices) -> list[tuple[str, str]]:
    """The aggregate operations this database can run."""
    if connection.vendor == "postgresql":
        return list(choices)
    return [(value, label) for value, label in choices if value not in POSTGRES_ONLY_OPERATIONS]


class SuperusersChange:
    """A ModelAdmin mixin: staff may view, only superusers add, change or delete."""

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.is_active and request.user.is_staff

    def has_add_permission(self, request, *args) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_change_permission(self, request, obj=None) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_delete_permission(self, request, obj=None) -> bool:
        return request.user.is_active and request.user.is_superuser


class DashboardStatsForm(charts_admin.DashboardStatsForm):
    """The package's form, which also works read-only (a staff member's view has no editable fields)."""

    def __init__(self, *args, **kwargs):
        forms.ModelForm.__init__(self, *args, **kwargs)
        if self.instance.pk and "default_multiseries_criteria" in self.fields:
            self.fields["default_multiseries_criteria"].queryset = CriteriaToStatsM2M.objects.filter(
                stats=self.instance)


class DashboardStatsAdmin(SuperusersChange, charts_admin.DashboardStatsAdmin):
    form = DashboardStatsForm

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name in ("type_operation_field_name", "allowed_type_operation_field_name") and field:
            field.choices = operations_offered(field.choices)
        return field


class DashboardStatsCriteriaAdmin(SuperusersChange, charts_admin.DashboardStatsCriteriaAdmin):
    pass


class CachedValueAdmin(SuperusersChange, charts_admin.CachedValueAdmin):
    pass


for model, model_admin in (
    (DashboardStats, DashboardStatsAdmin),
    (DashboardStatsCriteria, DashboardStatsCriteriaAdmin),
    (CachedValue, CachedValueAdmin),
):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    admin.site.register(model, model_admin)
