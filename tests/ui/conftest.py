"""Dashboard tests reuse the e2e fixtures: a real compose Engine on the private test engine."""

from __future__ import annotations

from tests.e2e.conftest import *  # noqa: F403
from tests.e2e.conftest import all_models, engine_c, make_engine  # noqa: F401
