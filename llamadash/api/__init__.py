"""The side API (Starlette), built from a Switcher."""
