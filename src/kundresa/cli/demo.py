"""``kundresa demo``: build a demo company's project, summarise it and serve it."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from kundresa.cli._common import JOURNEY_FILE, UserError, emit_result, err, out, say, warn


@click.command()
@click.argument(
    "directory", type=click.Path(file_okay=False, path_type=Path), default="kundresa-demo"
)
@click.option("--customers", type=click.IntRange(1), default=20_000, show_default=True)
@click.option(
    "--seed", type=click.IntRange(0, 2**32 - 2), default=0, show_default=True
)  # numpy's seeds are 0 to 2**32 - 1, and --live streams with seed + 1
@click.option("--lang", type=click.Choice(["sv", "da", "en"]), default="en", show_default=True)
@click.option("--no-serve", is_flag=True, help="Build the demo project only; do not serve it.")
@click.option("--force", is_flag=True, help="Rebuild even if DIRECTORY holds another project.")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=8000,
    show_default=True,
    help="Port to serve on.",
)
@click.option(
    "--live",
    is_flag=True,
    help="Keep new customers arriving: stream generated events to the served collector "
    "(/v1/batch, with a write key made up and printed), so the map's numbers move.",
)
@click.option(
    "--rate",
    type=click.FloatRange(0.1, 10_000),
    default=20.0,
    show_default=True,
    help="Events per second with --live.",
)
def demo(
    directory: Path,
    customers: int,
    seed: int,
    lang: str,
    no_serve: bool,
    force: bool,
    port: int,
    live: bool,
    rate: float,
) -> None:
    """Build a demo company's project (journey and events), summarise it and serve the web app
    on 127.0.0.1 (``--no-serve`` stops after the summary; ``--live`` streams new customers'
    events to the server's collector while it serves)."""
    from kundresa.demo.generator import EVENTS_PER_CUSTOMER
    from kundresa.demo.project import build_demo, compile_kernels

    if live and no_serve:
        raise click.UsageError("--live streams to the server it starts: leave out --no-serve")

    if not math.isfinite(rate):  # click's FloatRange lets nan through
        raise click.BadParameter(f"{rate} is not a number of events a second", param_hint="--rate")
    with err.status(f"generating {customers:,} demo customers…"):
        try:
            project = build_demo(directory, customers=customers, seed=seed, lang=lang, force=force)
        except MemoryError:
            raise UserError(
                f"--customers {customers:,}: not enough memory to generate so many (about "
                f"{round(customers * EVENTS_PER_CUSTOMER):,} events); try fewer"
            ) from None
    with err.status("compiling the analyses' kernels (once per machine)…"):
        try:
            compile_kernels(lang)
        except Exception as exc:  # the demo stands; the kernels compile on first use instead
            warn(f"the analyses' kernels were not compiled now ({exc}); they compile on first use")
    with project:
        info = project.info()
        funnel = project.run("stages")
        tps = project.run("touchpoints")
    out.print(
        f"[bold]{escape(info['journey']['name'])}[/] — demo project in {escape(str(directory))}",
        markup=True,
    )
    say(
        f"{info['events']:,} events from {info['customers']:,} customers, "
        f"{info['first_event']:%Y-%m-%d} – {info['last_event']:%Y-%m-%d}"
    )
    emit_result(funnel, "table", title="Customers per stage")
    emit_result(tps, "table", title="Touchpoints")
    say("Files:")
    say(f"  journey   {directory / JOURNEY_FILE}")
    say(f"  events    {directory / 'data' / 'events.parquet'}")
    say(f"  warehouse {directory / '.kundresa' / 'warehouse.duckdb'}")
    say(f"Try: kundresa stages --project {directory} --by persona")
    if no_serve:
        say(f"Serve it in the browser with: kundresa serve --project {directory}")
        return
    from kundresa.web.cli import run_server

    if not live:
        run_server(directory, port=port, lang=lang)
        return
    import inspect
    import secrets
    import threading

    from kundresa.demo.live import wait_and_stream

    if "write_key" not in inspect.signature(run_server).parameters:
        raise UserError(
            "--live needs the collector (kundresa serve --write-key), not in this build"
        )
    key = secrets.token_urlsafe(18)
    say(f"Write key: {key}")
    say(f"Streaming about {rate:g} events a second to http://127.0.0.1:{port}/v1/batch")
    stop = threading.Event()
    url = f"http://127.0.0.1:{port}/v1/batch"
    streamer = threading.Thread(
        target=wait_and_stream,
        args=(url, key, stop),
        kwargs={"rate": rate, "seed": seed + 1, "say": say},
        daemon=True,
    )
    streamer.start()
    collector: dict[str, Any] = {"write_key": key}
    try:
        run_server(directory, port=port, lang=lang, **collector)
    finally:
        stop.set()
        streamer.join(5)
