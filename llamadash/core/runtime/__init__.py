"""Runtimes: where llama-server runs (Compose container or child process)."""
