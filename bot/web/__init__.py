"""The staff web console, served under /admin beside the webhooks, /healthz and /metrics.

Kept import-light: the dialog's /web command and the CLI need only `links` (tokens and URLs),
not aiohttp or Jinja2; `bot.web.app` builds the sub-application.
"""
