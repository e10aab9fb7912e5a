"""Users: sign-in (throttled, second factor), API tokens, user administration, roles given to users."""
