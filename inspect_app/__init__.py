"""inspect_app."""
