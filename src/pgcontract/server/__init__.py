"""``pgcontract serve``: the health API, setup SQL, dashboard, metrics and alerts (Starlette on uvicorn)."""

from __future__ import annotations

import signal

import uvicorn

from pgcontract.server.app import TOKEN_ENV, ServeSettings, create_app


def serve(settings: ServeSettings, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run until SIGINT or SIGTERM, then return normally (so the caller's clean-up runs)."""
    config = uvicorn.Config(
        create_app(settings), host=host, port=port, access_log=False, server_header=False, log_level="info"
    )
    # uvicorn shuts down gracefully on these signals and then raises them again for the handlers it
    # found; with the default ones the process would die before an embedded server is removed.
    previous = {signum: signal.signal(signum, lambda *_: None) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        uvicorn.Server(config).run()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


__all__ = ["TOKEN_ENV", "ServeSettings", "create_app", "serve"]
