"""The pushes chart: push deliveries sent and failed per day (notifications' PushDelivery rows, by when
they were created; ``sent`` and ``failed`` count devices)."""

from django.db import migrations

PUSHES = [
    {"graph_key": "pushes", "graph_title": "Pushes sent and failed per day (devices)",
     "model_app_name": "notifications", "model_name": "PushDelivery", "date_field_name": "created_at",
     "operation_field_name": "sent,failed", "type_operation_field_name": "Sum",
     "default_chart_type": "multiBarChart", "allowed_chart_types": ["multiBarChart", "lineChart"],
     "allowed_time_scales": ["days", "weeks", "months"]},
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
