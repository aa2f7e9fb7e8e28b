"""``pgcontract serve``: the health API, setup SQL, dashboard, metrics and alerts (Starlette on uvicorn)."""

from __future__ import annotations

import logging
import signal
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from pgcontract.names import visible, visible_lines
from pgcontract.server.app import TOKEN_ENV, ServeSettings, create_app


class VisibleFormatter(logging.Formatter):
    """A log line with every control character escaped: health-check reasons carry the server's error
    text, which names tables and databases; such a name must not forge a log line or restyle a terminal.
    A traceback keeps its own line breaks (each line escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        record = logging.makeLogRecord({**record.__dict__, "msg": visible(record.getMessage()), "args": None})
        return visible_lines(super().format(record))


@contextmanager
def visible_logs() -> Iterator[None]:
    """pgcontract's own warnings on stderr as Python's last-resort handler shows them, made visible."""
    logger = logging.getLogger("pgcontract")
    handler = logging.StreamHandler()
    handler.setLevel(logging.WARNING)
    handler.setFormatter(VisibleFormatter("%(message)s"))
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` and listening, as uvicorn would bind it; ``OSError`` when the
    address is in use or cannot be had (uvicorn itself would log it and exit with a status of its own).
    It listens at once, so from the "serving http://..." line on a client's connection waits in the
    backlog until uvicorn accepts it instead of being refused."""
    sock = socket.socket(family=socket.AF_INET6 if ":" in host else socket.AF_INET)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)  # uvicorn's default backlog
    except OSError:
        sock.close()
        raise
    return sock


def serve(settings: ServeSettings, sock: socket.socket) -> None:
    """Serve on ``sock`` (from ``listen``) until SIGINT or SIGTERM, then return normally (so the caller's
    clean-up runs)."""
    host, port = sock.getsockname()[:2]
    config = uvicorn.Config(
        create_app(settings), host=host, port=port, access_log=False, server_header=False, log_level="info"
    )
    # uvicorn shuts down gracefully on these signals and then raises them again for the handlers it
    # found; with the default ones the process would die before an embedded server is removed.
    previous = {signum: signal.signal(signum, lambda *_: None) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        with visible_logs():
            uvicorn.Server(config).run(sockets=[sock])
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


__all__ = ["TOKEN_ENV", "ServeSettings", "create_app", "listen", "serve"]
