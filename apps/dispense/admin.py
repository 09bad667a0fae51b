from django.contrib import admin, messages

from apps.dispense import services
from apps.dispense.models import DispenseBatch, DispenseJob, FeedEntry, State


class DispenseBatchInline(admin.TabularInline):
    """The batches still to do (a big fan-out has thousands of finished ones)."""

    model = DispenseBatch
    verbose_name_plural = "unfinished batches"

    def get_queryset(self, request):
        return super().get_queryset(request).exclude(state=State.DONE)

    extra = 0
    can_delete = False
    fields = ("start_after", "end_at", "state", "size", "attempts", "last_error", "updated_at")
    readonly_fields = fields
    ordering = ("start_after",)
    max_num = 0


@admin.register(DispenseJob)
class DispenseJobAdmin(admin.ModelAdmin):
    list_display = (
        "id", "kind", "state", "attempts", "progress", "delivered", "short_error", "created_at", "updated_at",
    )
    list_filter = ("state", "kind")
    search_fields = ("=id", "=post_id", "=author_id")
    readonly_fields = [field.name for field in DispenseJob._meta.fields]
    inlines = [DispenseBatchInline]
    actions = ["retry_jobs"]
    ordering = ("-id",)

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(description="batches done")
    def progress(self, job: DispenseJob) -> str:
        return f"{job.batches_done}/{job.batches_total}" if job.batches_total else "-"

    @admin.display(description="last error")
    def short_error(self, job: DispenseJob) -> str:
        return job.last_error[:80]

    @admin.action(description="Retry selected jobs now")
    def retry_jobs(self, request, queryset) -> None:
        sent = sum(services.job_retry(job_id=job_id) for job_id in queryset.values_list("pk", flat=True))
        self.message_user(request, f"Re-sent {sent} message(s).", messages.SUCCESS)


@admin.register(FeedEntry)
class FeedEntryAdmin(admin.ModelAdmin):
    list_display = ("user_id", "post_id", "author_id", "created_at")
    search_fields = ("=user_id", "=post_id")
    readonly_fields = ("user_id", "post_id", "author_id", "created_at")
    show_full_result_count = False
