"""The engine: profiles, .env, runtimes, the switcher. Never imports Textual or Starlette."""
