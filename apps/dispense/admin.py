from django.contrib import admin, messages
from django.db.models import Count, Q, Sum

from apps.common.admin import ServiceErrorsAdmin
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
class DispenseJobAdmin(ServiceErrorsAdmin, admin.ModelAdmin):
    list_display = (
        "id", "kind", "state", "attempts", "progress", "delivered_so_far", "short_error", "created_at", "updated_at",
    )
    list_filter = ("state", "kind")
    search_fields = ("=id", "=post_id", "=author_id")
    readonly_fields = [field.name for field in DispenseJob._meta.fields]
    inlines = [DispenseBatchInline]
    actions = ["retry_jobs"]
    ordering = ("-id",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # a deleted running job would leave feeds half done; the sweeper purges finished ones

    def get_queryset(self, request):
        # A fan-out's progress lives in its batch rows (each batch updates its own row only).
        return super().get_queryset(request).annotate(
            batch_count=Count("batches"),
            batches_done=Count("batches", filter=Q(batches__state=State.DONE)),
            batch_entries=Sum("batches__size"),
        )

    @admin.display(description="batches done")
    def progress(self, job: DispenseJob) -> str:
        return f"{job.batches_done}/{job.batch_count}" if job.batch_count else "-"

    @admin.display(description="delivered")
    def delivered_so_far(self, job: DispenseJob) -> int:
        """Feed entries written or removed: the batches' sum while a fan-out runs."""
        if job.state == State.DONE or not job.batch_count:
            return job.delivered
        return job.batch_entries or 0

    @admin.display(description="last error")
    def short_error(self, job: DispenseJob) -> str:
        return job.last_error[:80]

    @admin.action(description="Retry selected jobs now")
    def retry_jobs(self, request, queryset) -> None:
        sent = sum(services.job_retry(job_id=job_id) for job_id in queryset.values_list("pk", flat=True))
        self.message_user(request, f"Re-sent {sent} message(s).", messages.SUCCESS)


@admin.register(FeedEntry)
class FeedEntryAdmin(admin.ModelAdmin):
    """The SQL store's rows, to look at: feeds change through the jobs (and the store, whichever it is)."""

    list_display = ("user_id", "post_id", "author_id", "created_at")
    search_fields = ("=user_id", "=post_id")
    readonly_fields = ("user_id", "post_id", "author_id", "created_at")
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
