"""Collectors: collect() returns a frozen snapshot; unsupported metrics are None."""
