"""Dashboard panes, one per module."""
