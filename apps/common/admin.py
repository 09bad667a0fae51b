from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponseRedirect

from apps.common.exceptions import ApplicationError
from apps.common.models import IdempotencyRecord


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(admin.ModelAdmin):
    list_display = ("scope", "status_code", "created_at")
    list_filter = ("status_code",)
    readonly_fields = ("scope", "key_hash", "fingerprint", "status_code", "content_type", "created_at")
    exclude = ("body",)


class ServiceErrorsAdmin:
    """A ModelAdmin mixin: a service's refusal (ApplicationError: a conflict, a row gone meanwhile) is an
    error message on the page the admin came from, not a 500. The view's transaction has rolled back by
    then (an action over many rows keeps the rows done before the refusal, as its message says)."""

    def _refused(self, request: HttpRequest, error: ApplicationError) -> HttpResponseRedirect:
        self.message_user(request, f"Not done: {error.message}", messages.ERROR)
        return HttpResponseRedirect(request.get_full_path())

    def changeform_view(self, request: HttpRequest, *args, **kwargs):
        try:
            return super().changeform_view(request, *args, **kwargs)
        except ApplicationError as error:
            return self._refused(request, error)

    def delete_view(self, request: HttpRequest, *args, **kwargs):
        try:
            return super().delete_view(request, *args, **kwargs)
        except ApplicationError as error:
            return self._refused(request, error)

    def changelist_view(self, request: HttpRequest, *args, **kwargs):
        try:
            return super().changelist_view(request, *args, **kwargs)
        except ApplicationError as error:
            return self._refused(request, error)
