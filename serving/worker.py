"""gunicorn's threaded worker, made safe to face clients directly and to stop without dropping requests.

Four changes to `gthread` (gunicorn 26 has no setting for any of them):

- **A request must keep arriving, whole.** Its head and body share one budget: `REQUEST_GRACE_SECONDS` plus one second
  per `REQUEST_MIN_BYTES_PER_SECOND` bytes received. A client that trickles past it is cut off, so it holds a
  thread for seconds, not forever. Many slow clients at once still fill the threads: deploy behind a buffering
  proxy (deploy/nginx.conf, SECURITY.md "Deploying"). A body cut short by the client is an error, never a
  shorter body.
- **A body the application did not read closes the connection.** An early answer (401, 403, 413, 415, 429, ...)
  leaves the rest of the body on the socket; gunicorn would answer "keep-alive" and then drop the connection
  while draining it, under the client's next request. The answer now says "Connection: close" instead.
- **gunicorn's own refusals are problem details too** (400 for a broken request line or header, 431 for too many
  or too large headers), not its HTML page.
- **A stop finishes what it accepted.** On TERM, a connection whose answer just went out as "keep-alive" may
  already carry the client's next request: it is served (with "Connection: close") instead of being closed
  under it, and idle connections are closed on time rather than at the end of the grace period.
"""

from __future__ import annotations

import json
import selectors
import time
from functools import partial

from gunicorn import util
from gunicorn.workers import gthread

REQUEST_GRACE_SECONDS = 10.0
REQUEST_MIN_BYTES_PER_SECOND = 16 * 1024
_TICK_SECONDS = 1.0  # how often a stopping worker closes idle keep-alive connections


class RequestTooSlow(TimeoutError):
    """The request's head or body did not arrive within its budget."""


class DeadlineSocket:
    """A client socket whose reads for one request share the budget above.

    Past the budget, a read in the request head ends the connection as if the client had left (gunicorn closes it
    quietly); a read in the body raises, so the application sees an error, never a truncated body.
    """

    def __init__(self, sock, log):
        self._sock, self._log = sock, log
        self._started: float | None = None
        self._received = 0
        self.in_body = False

    def __getattr__(self, name):
        return getattr(self._sock, name)

    def start_request(self) -> None:
        self._started, self._received, self.in_body = time.monotonic(), 0, False

    def end_request(self) -> None:
        """The application has answered: what is read after it (gunicorn's drain) has gunicorn's own timeout."""
        self._started, self.in_body = None, False

    def recv(self, size: int, flags: int = 0) -> bytes:
        if self._started is None:
            return self._sock.recv(size, flags)
        budget = self._started + REQUEST_GRACE_SECONDS + self._received / REQUEST_MIN_BYTES_PER_SECOND
        remaining = budget - time.monotonic()
        caller = self._sock.gettimeout()  # gunicorn's own drain sets one; the shorter wait wins
        try:
            if remaining <= 0:
                raise RequestTooSlow()
            self._sock.settimeout(remaining if caller is None else min(caller, remaining))
            data = self._sock.recv(size, flags)
        except TimeoutError:
            if caller is not None and caller < remaining:
                raise
            return self._too_slow()
        finally:
            self._sock.settimeout(caller)
        if not data and self.in_body:
            # gunicorn would hand the application the bytes so far as if they were the whole body
            raise ConnectionAbortedError("the client closed the connection before the end of the request body")
        self._received += len(data)
        return data

    def _too_slow(self) -> bytes:
        peer = self._peer()
        self._log.warning("closing the connection from %s: %d request bytes in %.0f s is too slow", peer,
                          self._received, time.monotonic() - self._started)
        self._started = None
        if self.in_body:
            raise RequestTooSlow(f"the request body from {peer} arrived too slowly")
        return b""  # in the head: gunicorn takes it for a client that left and closes the connection

    def _peer(self) -> str:
        try:
            host, port = self._sock.getpeername()[:2]
            return f"{host}:{port}"
        except OSError:
            return "a client"


class ThreadWorker(gthread.ThreadWorker):
    def init_process(self):
        # gunicorn writes its refusals (before the application sees the request) through this one function
        util.write_error = write_problem
        super().init_process()

    def load_wsgi(self):
        super().load_wsgi()
        self.wsgi = _close_after_unread_body(self.wsgi)

    def handle(self, conn):
        if not isinstance(conn.sock, DeadlineSocket):
            conn.sock = DeadlineSocket(conn.sock, self.log)
        conn.sock.start_request()
        return super().handle(conn)

    def handle_request(self, req, conn):
        conn.sock.in_body = True
        try:
            return super().handle_request(req, conn)
        finally:
            conn.sock.end_request()

    def finish_request(self, conn, fs):
        if self.alive or fs.cancelled() or fs.exception() is not None or fs.result() is not True:
            return super().finish_request(conn, fs)
        # Stopping, and the answer just sent said keep-alive: the client may be sending its next request on this
        # connection already. Wait for it like any keep-alive connection; it is answered with Connection: close.
        conn.sock.setblocking(False)
        conn.set_timeout()
        self.keepalived_conns.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self.on_client_socket_readable, conn))

    def wait_for_and_dispatch_events(self, timeout):
        # While stopping, gunicorn waits for events up to the whole grace period before closing idle connections.
        super().wait_for_and_dispatch_events(min(timeout, _TICK_SECONDS))


def write_problem(sock, status: int, reason: str, detail: str) -> None:
    """gunicorn's refusal of a request it could not parse, in the service's error shape (serving/problems.py)."""
    body = json.dumps({"type": "about:blank", "title": reason, "status": status, "detail": detail or reason,
                       "instance": None, "errors": []}).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/problem+json\r\n"
            f"Content-Length: {len(body)}\r\nX-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n\r\n")
    util.write_nonblock(sock, head.encode("latin-1") + body)


def _close_after_unread_body(app):
    """The WSGI app, with Connection: close on any answer sent before the request body was read to its end."""

    def wrapped(environ, start_response):
        def start(status, headers, exc_info=None):
            response = getattr(start_response, "__self__", None)  # gunicorn's Response
            if response is not None and not _body_read(environ["wsgi.input"]):
                response.force_close()
            return start_response(status, headers, exc_info)

        return app(environ, start)

    return wrapped


def _body_read(body) -> bool:
    """Whether gunicorn's request body has been read to its end (nothing of it left on the socket)."""
    reader = body.reader
    if body.buf.tell() or getattr(reader, "buf", None) is not None and reader.buf.tell():
        return False
    if hasattr(reader, "length"):  # Content-Length (0 without a body)
        return reader.length == 0
    if hasattr(reader, "parser"):  # chunked: the generator is dropped at the last chunk
        return reader.parser is None
    return getattr(reader, "finished", True)
