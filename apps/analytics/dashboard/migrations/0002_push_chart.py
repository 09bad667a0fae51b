"""The pushes chart: pushes sent and failed per day (notifications' PushDelivery rows by their state, by
when they were created), a series per state."""

from django.db import migrations

PUSHES = [
    {"graph_key": "pushes", "graph_title": "Pushes sent and failed per day",
     "model_app_name": "notifications", "model_name": "PushDelivery", "date_field_name": "created_at",
     "queryset_modifiers": [{"filter": {"state__in": ["sent", "failed"]}}], "type_operation_field_name": "Count",
     "default_chart_type": "multiBarChart", "allowed_chart_types": ["multiBarChart", "lineChart"],
     "allowed_time_scales": ["days", "weeks", "months"], "series_by": "state",
     "series_mapping": {"sent": "sent", "failed": "failed"}},
]


def create_charts(apps, schema_editor=None) -> None:
    from importlib import import_module

    import_module("apps.analytics.dashboard.migrations.0001_charts").create_charts(apps, schema_editor, PUSHES)


def remove_charts(apps, schema_editor=None) -> None:
    apps.get_model("admin_tools_stats", "DashboardStats").objects.filter(graph_key="pushes").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("dashboard", "0001_charts"),
        ("notifications", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_charts, remove_charts)]
