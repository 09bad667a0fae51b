"""Rankings in the admin: each period's entries per scope with rank, score and its parts (read-only).

Staff only, like the whole admin. The one write, recomputing a period, calls the same service as the
jobs.
"""

from django.contrib import admin, messages
from django.db.models import F, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from apps.common.exceptions import ApplicationError
from apps.ranking import services
from apps.ranking.models import PostRank, Ranking, Scope, UserRank


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # a period is replaced by recomputing it, never edited


@admin.register(Ranking)
class RankingAdmin(ReadOnlyAdmin):
    list_display = ("period", "kind", "entries_link", "candidates", "scopes", "generation", "computed_at",
                    "seconds", "building_since")
    list_filter = ("kind",)
    search_fields = ("period",)
    actions = ["recompute"]

    @admin.display(description="entries")
    def entries_link(self, ranking: Ranking) -> str:
        model = "userrank" if ranking.kind == Ranking.Kind.USERS else "postrank"
        url = reverse(f"admin:ranking_{model}_changelist") + f"?ranking__period={ranking.period}"
        return format_html('<a href="{}">{}</a>', url, ranking.entries)

    @admin.action(description="Recompute the selected periods")
    def recompute(self, request: HttpRequest, queryset: QuerySet) -> None:
        for ranking in queryset:
            try:
                summary = services.ranking_recompute(ranking=ranking)
            except ApplicationError as exc:
                self.message_user(request, f"{ranking}: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, f"{ranking}: {summary.candidates} ranked, {summary.entries} entries.")


class CountryFilter(admin.SimpleListFilter):
    """A country's ranking (its scope entries), among the countries ranked."""

    title = "country"
    parameter_name = "country"

    def lookups(self, request, model_admin):
        codes = model_admin.get_queryset(request).filter(scope_kind=Scope.COUNTRY).values_list("scope", flat=True)
        return [(code, code) for code in sorted(set(codes))]

    def queryset(self, request, queryset):
        return queryset.filter(scope_kind=Scope.COUNTRY, scope=self.value()) if self.value() else queryset


class EntryAdmin(ReadOnlyAdmin):
    list_filter = ("ranking__period", "scope_kind", CountryFilter)
    ordering = ("ranking", "scope_kind", "scope", "rank")
    list_per_page = 100
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # The shown generation only: a run in progress writes the next one beside it.
        return super().get_queryset(request).filter(generation=F("ranking__generation")).select_related("ranking")

    @admin.display(description="period", ordering="ranking__period")
    def period(self, entry) -> str:
        return entry.ranking.period


def _link(name: str, pk: int, text: str) -> str:
    return format_html('<a href="{}">{}</a>', reverse(f"admin:{name}_change", args=[pk]), text)


@admin.register(UserRank)
class UserRankAdmin(EntryAdmin):
    list_display = ("period", "scope_kind", "scope", "rank", "user_link", "score", "likes", "comments",
                    "followers", "unfollows", "posts", "new_account")
    search_fields = ("=user__id", "user__username")

    @admin.display(description="user")
    def user_link(self, entry: UserRank) -> str:
        return _link("accounts_user", entry.user_id, str(entry.user))

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("user")


@admin.register(PostRank)
class PostRankAdmin(EntryAdmin):
    list_display = ("period", "scope_kind", "scope", "rank", "post_link", "score", "likes", "comments", "author")
    search_fields = ("=post__id",)

    @admin.display(description="post")
    def post_link(self, entry: PostRank) -> str:
        return _link("posts_post", entry.post_id, f"post {entry.post_id}")
