"""``kundresa serve``: serve a project's web app (registered on the main CLI by the lead)."""

from __future__ import annotations

import gc
import ipaddress
import os
import signal
import socket
import sys
import threading
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

__all__ = [
    "WARM_PAGES",
    "ServeError",
    "is_loopback",
    "run_server",
    "serve",
    "start_webhooks",
    "warm_up",
]

TOKEN_ENV = "KUNDRESA_TOKEN"
WRITE_KEY_ENV = "KUNDRESA_WRITE_KEY"
SWITCH_INTERVAL = 0.0005
"""Seconds: the interpreter's thread switch interval while collecting
(``sys.setswitchinterval``; Python's default is 0.005)."""


class ServeError(click.UsageError):
    """The server cannot start as asked (exit code 2, one clear line)."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine.

    Examples
    --------
    >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("::1")
    (True, True, True)
    >>> is_loopback("0.0.0.0"), is_loopback("192.168.1.5"), is_loopback("")
    (False, False, False)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_write_key(key: str) -> None:
    """Refuse a write key no Segment library can send (:class:`ServeError`, exit code 2):
    an empty or blank one (``--write-key "$KEY"`` with ``KEY`` unset would otherwise serve
    without the collector, or with a key of spaces), one with a ``:`` (HTTP Basic auth's user
    name ends at the first ``:``, so every request would be 401) or with a control
    character (not allowed in an HTTP header)."""
    if not key.strip():
        raise ServeError(
            "--write-key is empty: give the key the site's Segment library sends (e.g. "
            "`openssl rand -hex 16`), or leave it out to serve without the collector"
        )
    if ":" in key:
        raise ServeError(
            "--write-key: a key with ':' cannot be sent as the HTTP Basic auth user name "
            "(it ends at the first ':')"
        )
    if not key.isprintable():
        raise ServeError("--write-key: a key with a control character cannot be sent")


def run_server(
    project_dir: str | os.PathLike[str] = ".",
    host: str = "127.0.0.1",
    port: int = 8000,
    token: str | None = None,
    *,
    lang: str | None = None,
    open_browser: bool = False,
    write_key: str | None = None,
    webhooks: Sequence[str] = (),
) -> None:
    """Serve the project's web app until interrupted; prints the URL first. ``webhooks``
    receive every stage event recorded while it serves (:mod:`kundresa.live.webhooks`).

    With ``write_key`` (or ``KUNDRESA_WRITE_KEY``) the Segment-shaped collector answers under
    ``/v1/`` (docs/collector.md); stopping the server loads what it has logged.

    Raises
    ------
    ServeError
        When ``host`` is not loopback and there is no token, the port is taken, the write key
        cannot be sent (:func:`check_write_key`), or the project cannot be opened. A journey
        file with errors is no reason: a one-line warning names the file and its first
        problem, and the server starts so that its editor can repair the file.
    """
    import uvicorn

    from kundresa.live import LogError
    from kundresa.project import ProjectError
    from kundresa.web.app import create_app

    token = token or os.environ.get(TOKEN_ENV) or None
    if write_key is not None:
        check_write_key(write_key)
    write_key = write_key or os.environ.get(WRITE_KEY_ENV) or None
    if write_key is not None:
        check_write_key(write_key)
    if not is_loopback(host) and not token:
        raise ServeError(
            f"--host {host} is reachable from other machines: give an access token with "
            f"--token or {TOKEN_ENV} (or serve on 127.0.0.1)"
        )
    if not Path(project_dir).is_dir():
        raise ServeError(f"{project_dir}: no such project folder")
    check_port(host, port)
    from kundresa.errors import UsageError
    from kundresa.live.webhooks import check_webhook_url

    try:
        for url in webhooks:
            check_webhook_url(url)
    except UsageError as exc:
        raise ServeError(str(exc)) from exc
    try:
        app = create_app(project_dir, token=token, lang=lang, write_key=write_key)
    except (ProjectError, ValueError, LogError) as exc:
        raise ServeError(str(exc)) from exc
    dispatcher = start_webhooks(app, webhooks) if webhooks else None
    if is_loopback(host):
        # Only this machine's own names: a web page elsewhere cannot reach the app through
        # a domain of its own pointed at 127.0.0.1 (DNS rebinding).
        from starlette.middleware.trustedhost import TrustedHostMiddleware

        app.add_middleware(TrustedHostMiddleware, allowed_hosts=LOOPBACK_NAMES)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/"
    click.echo(f"Kundresa serving {Path(project_dir).resolve()} at {url}")
    if token:
        click.echo("Sign in with the access token (API: Authorization: Bearer TOKEN).")
    if write_key:
        click.echo(
            f"Collecting events at {url}v1/ (Segment's HTTP API; the write key is the Basic "
            "auth user name). Other commands may wait while a load holds the warehouse."
        )
    problem = app.state.project.journey_problem
    if problem:
        # The journey file has errors: serve anyway, so that the editor can repair it.
        lines = problem.splitlines()
        more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
        click.echo(
            f"Warning: {lines[0]}{more}; serving anyway: pages answer 409 until the journey "
            f"file is repaired, in the editor at {url}editor or on disk.",
            err=True,
        )
    click.echo("Press Ctrl+C to stop.")
    sys.stdout.flush()
    if open_browser:
        import webbrowser

        webbrowser.open(url)
    if write_key:
        # The collector's loader thread runs Python between its DuckDB calls; a shorter
        # switch interval (5 ms by default) hands the interpreter back to the event loop
        # sooner when an ack is ready, which is what its latency waits on.
        sys.setswitchinterval(SWITCH_INTERVAL)
    server = _quiet_server(
        uvicorn.Config(app, host=host.strip("[]"), port=port, log_level="warning")
    )
    threading.Thread(
        target=warm_up, args=(server, f"http://{shown}:{port}", token), daemon=True
    ).start()
    # uvicorn answers SIGTERM (`kill`, `docker stop`, systemd) by shutting down and then
    # raising the signal again with the handler that was there before it; Python's default
    # for SIGTERM ends the process at once, so the cleanup below (the collector's last load,
    # letting go of the warehouse) would never run. This handler makes that SIGTERM end
    # `server.run()` with an exception instead, as SIGINT does (signals reach only the main
    # thread: an embedder's server in another thread is stopped by its own means).
    main_thread = threading.current_thread() is threading.main_thread()
    if main_thread:
        signal.signal(signal.SIGTERM, _stopped)
    try:
        server.run()
    except _Stopped:
        pass  # a SIGTERM: stopped as asked, the cleanup below runs
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM ends it at once
        app.state.jobs.shutdown()  # running uploads stop and roll back (web/jobs.py)
        app.state.project.stop_collecting()  # the last load: its stage events are recorded
        if dispatcher is not None:
            dispatcher.finish()  # ... and posted (up to 5 s; a warning names what is not)
        app.state.project.close()


def _quiet_server(config: Any) -> Any:
    """uvicorn's server, quiet on a forced exit: a second Ctrl-C makes uvicorn stop without
    shutting the app down, and the app's cancelled lifespan was logged as a 40-line error
    traceback before ``stopped``."""
    import logging

    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            super().handle_exit(sig, frame)
            if self.force_exit:
                logging.getLogger("uvicorn.error").disabled = True

    return Server(config)


class _Stopped(Exception):
    """SIGTERM arrived: the server has shut down; clean up and exit 0."""


def _stopped(signum: int, frame: Any) -> None:
    raise _Stopped


def check_port(host: str, port: int) -> None:
    """:class:`ServeError` when ``host:port`` cannot be listened on (another server has it).

    The probe sets ``SO_REUSEADDR`` as uvicorn's own socket does (on POSIX), so a server
    restarted soon after a crash is not refused for the minute its old connections spend in
    TIME-WAIT; a port another process listens on is still refused.
    """
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        if os.name != "nt":  # on Windows the option would let two servers share a port
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as exc:
            raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc


def start_webhooks(app: Any, urls: Sequence[str]) -> Any:
    """Post the served project's stage events recorded from now on to ``urls``; the running
    :class:`~kundresa.live.webhooks.WebhookDispatcher`."""
    from kundresa.live.state import latest_seq
    from kundresa.live.webhooks import WebhookDispatcher

    state = app.state.project

    def read_feed(since: int, limit: int) -> list[dict[str, Any]]:
        with state.lock:  # the served connection is used by one thread at a time
            return state.project.stage_events(since, limit)

    with state.lock:
        start = latest_seq(state.project.warehouse.con)
    click.echo(f"Posting stage events to {len(urls)} webhook(s) (docs/live-state.md).")
    return WebhookDispatcher(urls, read_feed, start_after=start).start()


LOOPBACK_NAMES = ["127.0.0.1", "localhost", "::1", "[::1]"]
"""Host headers a server on a loopback address answers (others get 400)."""

WARM_PAGES = (
    "/",
    "/funnel",
    "/bottlenecks",
    "/paths",
    "/retention",
    "/compare",
    "/attribution",
)
"""Pages computed as soon as the server is up, so their first visit is served from the cache
(on a million events the analyses behind a page take seconds; a cached page milliseconds)."""


def warm_up(server: Any, base_url: str, token: str | None) -> None:
    """Request each of :data:`WARM_PAGES` once the server listens (errors are ignored: a
    page that fails shows its message when a person opens it), then freeze the heap out of the
    garbage collector (:func:`gc.freeze`): the objects of the imports and the warmed pages are
    never walked again by a full collection. Such collections, set off by the collector's
    loader allocating the rows of a cycle, held the interpreter lock ~100 ms and were the tail
    of the ack latency (p99 ~140 ms against ~45 ms frozen at 20,000 events/s; bench/NOTES.md,
    session 11). Objects frozen are still freed when nothing refers to them; only reference
    cycles among them stay (what the start-up made, once)."""
    while not server.started:
        if server.should_exit:
            return
        time.sleep(0.1)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    for path in WARM_PAGES:
        if server.should_exit:
            return
        try:
            with urllib.request.urlopen(
                urllib.request.Request(base_url + path, headers=headers), timeout=3600
            ) as r:
                r.read()
        except (OSError, ValueError):
            continue
    gc.collect()
    gc.freeze()


@click.command("serve")
@click.option(
    "--project",
    "project_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=".",
    show_default=True,
    help="The project folder.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--token",
    envvar=TOKEN_ENV,
    help=f"Access token every page and API call needs (or {TOKEN_ENV}); required off loopback.",
)
@click.option("--lang", type=click.Choice(["sv", "da", "en"]), help="UI language.")
@click.option("--open/--no-open", "open_browser", default=False, help="Open a browser.")
@click.option(
    "--write-key",
    envvar=WRITE_KEY_ENV,
    help=f"Collect live events under /v1/ with this write key (or {WRITE_KEY_ENV}); "
    "see docs/collector.md.",
)
@click.option(
    "--webhook",
    "webhooks",
    multiple=True,
    metavar="URL",
    help="POST every customer's stage change ({customer_id, from_stage, to_stage, at}) to "
    "URL; repeatable. Retried with backoff; never blocks ingest (docs/live-state.md).",
)
def serve(
    project_dir: Path,
    host: str,
    port: int,
    token: str | None,
    lang: str | None,
    open_browser: bool,
    write_key: str | None,
    webhooks: tuple[str, ...],
) -> None:
    """Serve the journey map, the analyses and their HTTP API (OpenAPI at /openapi.json)."""
    run_server(
        project_dir,
        host,
        port,
        token,
        lang=lang,
        open_browser=open_browser,
        write_key=write_key,
        webhooks=webhooks,
    )
