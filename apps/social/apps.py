from django.apps import AppConfig


class SocialConfig(AppConfig):
    name = "apps.social"
    label = "social"

    def ready(self) -> None:
        from apps.accounts.selectors import register_user_annotator, register_user_marker
        from apps.social import receivers
        from apps.social.selectors import users_annotate_is_following, users_mark_is_following

        # accounts cannot import social: it shows ``is_following`` on users through these hooks.
        register_user_annotator(users_annotate_is_following)
        register_user_marker(users_mark_is_following)
        receivers.connect()
