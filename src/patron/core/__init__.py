"""Small Django-side helpers shared by every app."""
