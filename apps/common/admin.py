from django.contrib import admin

from apps.common.models import IdempotencyRecord


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(admin.ModelAdmin):
    list_display = ("scope", "status_code", "created_at")
    list_filter = ("status_code",)
    readonly_fields = ("scope", "key_hash", "fingerprint", "status_code", "content_type", "created_at")
    exclude = ("body",)
