"""llamadash: a terminal dashboard that drives llama-server."""

__version__ = "0.1.0"
