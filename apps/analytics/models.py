"""Analytics tables: request and error logs (SQL log store), endpoint and regional counters, batches done.

Logs keep the user as a plain id, not a foreign key: they are written in bulk a thousand times for each
read, and a per-row key check would cost every insert; a deleted user's logs are removed by the
``user_deleting`` receiver. Counters are never pruned.
"""

from django.db import models

from apps.analytics.histogram import COLUMNS

# The Cassandra log tables are cqlengine models; sync_cassandra finds them in this module.
from apps.analytics.logstore.cassandra import ErrorLogByEndpoint, ErrorLogByUser, RequestLogByUser  # noqa: F401


class RequestLog(models.Model):
    """One API request: which endpoint (URL pattern name), who, how it ended and how long it took."""

    time = models.DateTimeField()
    endpoint = models.CharField(max_length=100)
    method = models.CharField(max_length=8)
    status = models.PositiveSmallIntegerField()
    duration_ms = models.FloatField()
    user_id = models.BigIntegerField(null=True, blank=True)
    request_id = models.CharField(max_length=36)
    app_version = models.CharField(max_length=32, blank=True, default="")

    class Meta:
        indexes = [
            models.Index(fields=["time"], name="analytics_reqlog_time"),
            models.Index(fields=["user_id", "time"], name="analytics_reqlog_user_time"),
            models.Index(fields=["endpoint", "time"], name="analytics_reqlog_endpoint_time"),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.endpoint} {self.status}"


class ErrorLog(models.Model):
    """An API answer with status >= 400: its error code; for a 5xx the exception's summary."""

    time = models.DateTimeField()
    endpoint = models.CharField(max_length=100)
    method = models.CharField(max_length=8)
    status = models.PositiveSmallIntegerField()
    error_code = models.CharField(max_length=64, blank=True, default="")
    summary = models.CharField(max_length=200, blank=True, default="")
    user_id = models.BigIntegerField(null=True, blank=True)
    request_id = models.CharField(max_length=36)

    class Meta:
        indexes = [
            models.Index(fields=["time"], name="analytics_errlog_time"),
            models.Index(fields=["user_id", "time"], name="analytics_errlog_user_time"),
            models.Index(fields=["endpoint", "time"], name="analytics_errlog_endpoint_time"),
        ]

    def __str__(self) -> str:
        return f"{self.status} {self.error_code} {self.endpoint}"


class Period(models.TextChoices):
    HOUR = "hour"
    DAY = "day"
    YEAR = "year"


class EndpointCounter(models.Model):
    """Requests of one endpoint and method in one hour or day, by status class, with their durations.

    ``h00`` .. ``h20`` count requests per duration bucket (apps/analytics/histogram.py), so p50/p95/p99
    can be read for any range and summed across processes.
    """

    endpoint = models.CharField(max_length=100)
    method = models.CharField(max_length=8)
    period = models.CharField(max_length=4, choices=[(Period.HOUR, "hour"), (Period.DAY, "day")])
    start = models.DateTimeField()
    requests = models.PositiveBigIntegerField(default=0)
    s2xx = models.PositiveBigIntegerField(default=0)
    s3xx = models.PositiveBigIntegerField(default=0)
    s4xx = models.PositiveBigIntegerField(default=0)
    s5xx = models.PositiveBigIntegerField(default=0)
    duration_ms = models.FloatField(default=0.0)  # the total, for the mean

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "method", "period", "start"], name="analytics_endpoint_once")
        ]
        indexes = [models.Index(fields=["period", "start"], name="analytics_endpoint_period")]

    def __str__(self) -> str:
        return f"{self.method} {self.endpoint} {self.period} {self.start:%Y-%m-%d %H:00}"

    @property
    def histogram(self) -> list[int]:
        return [getattr(self, column) for column in COLUMNS]


for _column in COLUMNS:
    EndpointCounter.add_to_class(_column, models.PositiveBigIntegerField(default=0))


class Metric(models.TextChoices):
    NEW_USERS = "new_users"
    NEW_POSTS = "new_posts"
    FOLLOWS = "follows"
    UNFOLLOWS = "unfollows"
    LIKES = "likes"
    COMMENTS = "comments"


WORLD = "world"
UNKNOWN = "unknown"


class RegionalCounter(models.Model):
    """Events of one kind in one region (a continent code, ``unknown`` or ``world``) in a day or a year.

    ``sent`` counts events by actors of the region (new users and posts count there); ``received`` counts
    those whose receiver (the followed user, the liked or commented post's author) is of the region.
    """

    region = models.CharField(max_length=16)
    period = models.CharField(max_length=4, choices=[(Period.DAY, "day"), (Period.YEAR, "year")])
    start = models.DateField()
    metric = models.CharField(max_length=16, choices=Metric.choices)
    sent = models.PositiveBigIntegerField(default=0)
    received = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["region", "period", "start", "metric"], name="analytics_region_once")
        ]
        indexes = [models.Index(fields=["period", "start"], name="analytics_region_period")]

    def __str__(self) -> str:
        return f"{self.region} {self.metric} {self.period} {self.start}"


class ProcessedBatch(models.Model):
    """A batch of records already counted: a redelivered message (at least once) adds nothing."""

    batch_id = models.CharField(max_length=36, primary_key=True)
    processed_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["processed_at"], name="analytics_batch_processed")]

    def __str__(self) -> str:
        return self.batch_id
