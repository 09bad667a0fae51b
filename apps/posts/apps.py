from django.apps import AppConfig


class PostsConfig(AppConfig):
    name = "apps.posts"
    label = "posts"

    def ready(self) -> None:
        from apps.posts import receivers

        receivers.connect()
