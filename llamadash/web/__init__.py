"""``llamadash web``: the dashboard in a browser, through textual-serve (aiohttp).

Each browser session runs its own dashboard process (``session.dashboard_command``), exec'd
from an argv list with an allow-listed environment; ``gate.py`` decides who may reach it.
Never imports Textual: the dashboard runs in the child.
"""
