"""The dashboard's charts on the admin index, as django-admin-charts rows: a fresh install has them.

Charts the package aggregates itself (counts and sums per day) name their model and field; the computed
ones (graph keys in apps/analytics/dashboard/computed.py) keep a row for their title, type and periods and
take their numbers from there. ``create_charts`` is idempotent (by graph key) and also used by the browser
test, whose live server's database is flushed of migration rows by earlier tests.
"""

from django.db import migrations

LINES = ["lineChart", "multiBarChart", "stackedAreaChart"]
BARS = ["multiBarChart", "discreteBarChart", "lineChart"]
DAYS = ["days", "weeks", "months"]
# Fixed series where the values are known (the package would add an empty "None" series to values read
# from the rows): the continents and "unknown" (the world is their sum, left out).
CONTINENTS = {code: code for code in ("AF", "AN", "AS", "EU", "NA", "OC", "SA", "unknown")}

CHARTS = [
    {"graph_key": "requests_per_endpoint", "graph_title": "Requests per endpoint per day",
     "model_app_name": "analytics", "model_name": "EndpointCounter", "date_field_name": "start",
     "queryset_modifiers": [{"filter": {"period": "day"}}], "operation_field_name": "requests",
     "type_operation_field_name": "Sum", "default_chart_type": "stackedAreaChart",
     "allowed_chart_types": LINES, "allowed_time_scales": ["days"], "series_by": "endpoint"},
    {"graph_key": "error_rate", "graph_title": "Error rate per day (4xx, 5xx, % of requests)",
     "model_app_name": "analytics", "model_name": "EndpointCounter", "date_field_name": "start",
     "operation_field_name": "requests", "type_operation_field_name": "Sum", "default_chart_type": "lineChart",
     "allowed_chart_types": LINES, "allowed_time_scales": ["days", "hours"], "y_axis_format": ".2f"},
    {"graph_key": "endpoint_p95", "graph_title": "p95 duration per endpoint (ms)",
     "model_app_name": "analytics", "model_name": "EndpointCounter", "date_field_name": "start",
     "operation_field_name": "requests", "type_operation_field_name": "Sum", "default_chart_type": "lineChart",
     "allowed_chart_types": ["lineChart", "multiBarChart"], "allowed_time_scales": ["days", "hours"],
     "y_axis_format": ".1f"},
    {"graph_key": "new_users", "graph_title": "New users per day", "model_app_name": "accounts",
     "model_name": "User", "date_field_name": "created_at", "type_operation_field_name": "Count",
     "default_chart_type": "discreteBarChart", "allowed_chart_types": BARS, "allowed_time_scales": DAYS},
    {"graph_key": "new_posts", "graph_title": "New posts per day", "model_app_name": "posts",
     "model_name": "Post", "date_field_name": "created_at", "type_operation_field_name": "Count",
     "default_chart_type": "discreteBarChart", "allowed_chart_types": BARS, "allowed_time_scales": DAYS},
    {"graph_key": "regional_new_users", "graph_title": "Regional counters per continent per day",
     "model_app_name": "analytics", "model_name": "RegionalCounter", "date_field_name": "start",
     "queryset_modifiers": [{"filter": {"period": "day"}}, {"exclude": {"region": "world"}}],
     "operation_field_name": "sent", "type_operation_field_name": "Sum", "default_chart_type": "multiBarChart",
     "allowed_chart_types": BARS, "allowed_time_scales": ["days"], "series_by": "region",
     "series_mapping": CONTINENTS, "filter_by": "metric", "filter_default": "new_users"},
    {"graph_key": "fanout_lag", "graph_title": "Fan-out lag p50 / p99 per hour (s)", "model_app_name": "dispense",
     "model_name": "DispenseJob", "date_field_name": "post_created_at", "operation_field_name": "delivered",
     "type_operation_field_name": "Sum", "default_chart_type": "lineChart", "allowed_chart_types": LINES,
     "allowed_time_scales": ["hours", "days"], "default_time_scale": "hours", "default_time_period": 2,
     "y_axis_format": ".2f"},
    {"graph_key": "fanout_deliveries", "graph_title": "Fan-out deliveries per hour", "model_app_name": "dispense",
     "model_name": "DispenseJob", "date_field_name": "post_created_at", "operation_field_name": "delivered",
     "type_operation_field_name": "Sum", "default_chart_type": "discreteBarChart", "allowed_chart_types": BARS,
     "allowed_time_scales": ["hours", "days"], "default_time_scale": "hours", "default_time_period": 2},
]


def create_charts(apps, schema_editor=None, charts=CHARTS) -> None:
    DashboardStats = apps.get_model("admin_tools_stats", "DashboardStats")
    Criteria = apps.get_model("admin_tools_stats", "DashboardStatsCriteria")
    Link = apps.get_model("admin_tools_stats", "CriteriaToStatsM2M")
    for definition in charts:
        fields = dict(definition)
        series_by, filter_by = fields.pop("series_by", None), fields.pop("filter_by", None)
        filter_default = fields.pop("filter_default", "")
        series_mapping = fields.pop("series_mapping", None)
        fields.setdefault("default_time_period", 7)
        fields.setdefault("default_time_scale", fields["allowed_time_scales"][0])
        fields["allowed_type_operation_field_name"] = [fields["type_operation_field_name"]]
        stats, created = DashboardStats.objects.get_or_create(graph_key=fields.pop("graph_key"), defaults=fields)
        if not created:
            continue
        for field_name, use_as in ((series_by, "multiple_series"), (filter_by, "chart_filter")):
            if field_name:
                mapping = series_mapping if use_as == "multiple_series" else None
                criteria, _ = Criteria.objects.get_or_create(
                    criteria_name=f"{stats.model_name.lower()}_{field_name}{'_fixed' if mapping else ''}",
                    defaults={"dynamic_criteria_field_name": field_name, "criteria_dynamic_mapping": mapping})
                link = Link.objects.create(criteria=criteria, stats=stats, use_as=use_as,
                                           choices_based_on_time_range=True,
                                           default_option=filter_default if use_as == "chart_filter" else "")
                if use_as == "multiple_series":
                    stats.default_multiseries_criteria = link
                    stats.save(update_fields=["default_multiseries_criteria"])


def remove_charts(apps, schema_editor=None) -> None:
    apps.get_model("admin_tools_stats", "DashboardStats").objects.filter(
        graph_key__in=[chart["graph_key"] for chart in CHARTS]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("admin_tools_stats", "0024_alter_cachedvalue_operation_and_more"),
        ("analytics", "0001_initial"),
        ("accounts", "0002_devicetoken"),
        ("posts", "0003_like_comment_indexes_cover_the_liker"),
        ("dispense", "0005_celebrities_and_lag"),
    ]

    operations = [migrations.RunPython(create_charts, remove_charts)]
