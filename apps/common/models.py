"""Rows that belong to no app: stored answers of idempotent POSTs."""

from django.db import models
from django.utils import timezone


class IdempotencyRecord(models.Model):
    """The first answer to a POST carrying ``Idempotency-Key``, replayed to retries for 24 h.

    Neither the key nor the answer is stored in the clear: ``key_hash`` is an HMAC of
    the key and ``body`` is encrypted with a key derived from it, so the stored
    answers (which may hold tokens) are useless without the client's key.
    """

    scope = models.CharField(max_length=40)  # "user:<id>" or "anonymous"
    key_hash = models.CharField(max_length=64)
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)  # null while the first request runs
    content_type = models.CharField(max_length=100, blank=True, default="")
    body = models.BinaryField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "key_hash"], name="idempotency_scope_key_unique")]

    def __str__(self) -> str:
        return f"{self.scope} {self.key_hash[:12]} {self.status_code}"


class ScheduledRun(models.Model):
    """The last run of each scheduled (cron) actor, recorded by ``apps.common.scheduling``'s Dramatiq
    middleware as the worker finishes it: when, how long, whether it failed and why, and how many runs."""

    actor_name = models.CharField(max_length=100, unique=True)
    schedule = models.CharField(max_length=100, blank=True, default="", help_text="its crontab line")
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    last_seconds = models.FloatField(default=0)
    last_ok = models.BooleanField(default=True)
    last_error = models.TextField(blank=True, default="")
    runs = models.PositiveIntegerField(default=0)
    failures = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ("actor_name",)

    def __str__(self) -> str:
        return f"{self.actor_name} at {self.last_finished_at}"
