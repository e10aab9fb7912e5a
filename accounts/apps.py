"""App config."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Sign-in, tokens and user administration (no models: Django's users and groups)."""

    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from accounts import signals  # noqa: F401  (connects the sign-in receivers)
