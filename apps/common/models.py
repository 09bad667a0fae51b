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
