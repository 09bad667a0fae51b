"""django-admin-charts' data and CSV views, with the computed charts' numbers swapped in (computed.py)."""

from admin_tools_stats import views

from apps.analytics.dashboard.computed import computed_series, range_checked


class ComputedSeriesMixin:
    def get_chart_series_data(self, request, dashboard_stats, interval=None):
        # On this row only, for this request: the package calls the instance's method.
        compute = computed_series(dashboard_stats.graph_key)
        if compute is not None:
            dashboard_stats.cache_values = False
            dashboard_stats.get_multi_time_series = compute
        elif not dashboard_stats.cache_values:
            dashboard_stats.get_multi_time_series = range_checked(dashboard_stats.get_multi_time_series)
        return super().get_chart_series_data(request, dashboard_stats, interval)


class ChartDataView(ComputedSeriesMixin, views.ChartDataView):
    pass


class ChartDataCSVView(ComputedSeriesMixin, views.ChartDataCSVView):
    pass
