"""What an attached dashboard and the owner's API say to each other (no Textual, no Starlette).

``shapes.py`` declares the ``GET /dashboard`` stream's messages once (the API writes them,
``client.py`` reads them back into the same dataclasses the panes draw).
"""
