"""The long-running processes: ``outreach worker|scheduler|api|sim|broker|demo``."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer

from outreach.cli.app import app, load_settings


@app.command()
def broker(
    port: Annotated[int, typer.Option(help="Loopback port to listen on.")] = 9092,
) -> None:
    """Run the embedded Kafka-compatible broker (tansu, memory storage) until Ctrl-C/SIGTERM."""
    from outreach.embedded.tansu import EmbeddedBroker

    settings = load_settings()
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    embedded = EmbeddedBroker(port, binary=settings.tansu_bin).start()
    typer.echo(f"tansu broker ready on {embedded.bootstrap_servers} (Ctrl-C to stop)")
    try:
        while not stop.wait(0.5):
            if not embedded.is_running():
                typer.echo("error: the broker exited on its own", err=True)
                raise typer.Exit(code=1)
    finally:
        embedded.stop()
    typer.echo("broker stopped")


@app.command()
def worker(
    roles: Annotated[
        str, typer.Option(help="Comma-separated: orchestrator,channels,status,replies")
    ] = "orchestrator,channels,status,replies",
    channels: Annotated[str | None, typer.Option(help="Channels to serve (default: all)")] = None,
    metrics_port: Annotated[
        int | None, typer.Option(help="Prometheus port (default: settings; 0: off).")
    ] = None,
) -> None:
    """Run the faust worker: core events -> jobs, sends, statuses and replies."""
    from outreach import wiring
    from outreach.metrics import Metrics, serve_metrics
    from outreach.orchestrator.worker_app import ALL_ROLES, WorkerDependencies, run_worker

    settings = load_settings()
    metrics = Metrics()
    serve_metrics(
        metrics, settings.worker_metrics_port if metrics_port is None else metrics_port, "worker"
    )
    chosen = [r.strip() for r in roles.split(",") if r.strip()]
    unknown = set(chosen) - set(ALL_ROLES)
    if unknown:
        typer.echo(f"error: unknown role(s) {sorted(unknown)}; choose from {ALL_ROLES}", err=True)
        raise typer.Exit(code=2)
    engine = wiring.database_engine(settings, pool_size=8)
    redis = wiring.redis_client(settings)
    names = [c.strip() for c in channels.split(",")] if channels else None
    workers = wiring.channel_workers(settings, names) if "channels" in chosen else {}
    if "orchestrator" in chosen:
        wiring.register_channel_kinds()
    deps = WorkerDependencies(
        settings=settings,
        store=wiring.store(engine),
        clock=wiring.clock(settings, redis),
        channels=workers,
        builder=wiring.message_builder(settings, engine),
        sealer=wiring.dead_letter_sealer(settings),
        channel_subset=tuple(names) if names is not None else None,
        process_id=wiring.process_id(),
        ledger=wiring.send_ledger(settings, redis),
        pacer=wiring.rate_limiter(settings, redis),
        breaker_board=wiring.breaker_board(settings, redis, wiring.process_id()),
        metrics=metrics,
    )
    if "replies" in chosen:
        deps.reply_handler = wiring.reply_handler(settings, engine, deps.clock)
    run_worker(deps, chosen, loglevel=settings.log_level)


@app.command()
def scheduler(
    metrics_port: Annotated[
        int | None, typer.Option(help="Prometheus port (default: settings; 0: off).")
    ] = None,
) -> None:
    """Claim due jobs (exactly once across schedulers) and publish them to the channel topics."""
    import asyncio

    from outreach import wiring
    from outreach.channels.base import ChannelConfigError
    from outreach.metrics import Metrics, serve_metrics
    from outreach.scheduler.runner import run_scheduler

    settings = load_settings()
    # Weekly reports go through the e-mail channel: it is built (and checked) at start-up.
    try:
        mailer = wiring.report_mailer(settings) if settings.weekly_reports else None
    except ChannelConfigError as error:
        typer.echo(
            f"error: {error}; weekly reports need the e-mail channel "
            "(OUTREACH_WEEKLY_REPORTS=false turns them off)",
            err=True,
        )
        raise typer.Exit(code=2) from None
    engine = wiring.database_engine(settings)
    stop = asyncio.Event()
    metrics = Metrics()
    port = settings.scheduler_metrics_port if metrics_port is None else metrics_port
    serve_metrics(metrics, port, "scheduler")

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        redis = wiring.redis_client(settings)
        await run_scheduler(
            wiring.store(engine),
            settings,
            wiring.clock(settings, redis),
            ledger=wiring.send_ledger(settings, redis),
            stop=stop,
            metrics=metrics,
            report_mailer=mailer,
        )

    asyncio.run(main())
    engine.dispose()


@app.command()
def api(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Serve the HTTP API: scheduling, comm-context, templates, provider webhooks."""
    from outreach.api.server import run_api

    settings = load_settings()
    typer.echo(f"api on http://{host}:{port}")
    run_api(settings, host, port)


@app.command()
def sim(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8025,
    webhook_base_url: Annotated[
        str | None,
        typer.Option(help="Where to send status callbacks (default: OUTREACH_PUBLIC_BASE_URL)."),
    ] = None,
) -> None:
    """Run the local provider simulator (Twilio, SendGrid and WhatsApp Cloud API shapes)."""
    from outreach import wiring
    from outreach.sim.provider import run_sim, sim_config_for

    settings = load_settings()
    overrides = {"webhook_base_url": webhook_base_url} if webhook_base_url else {}
    # The private half of OUTREACH_SENDGRID_WEBHOOK_PUBLIC_KEY, so the API can verify the events.
    private_key = (
        settings.sim_sendgrid_private_key_pem.get_secret_value()
        if settings.sim_sendgrid_private_key_pem
        else None
    )
    config = sim_config_for(settings, private_key, **overrides)
    typer.echo(f"provider simulator on http://{host}:{port}")
    # The demo's shared clock when one is configured: reports are stamped in simulated time.
    run_sim(host, port, config, wiring.clock(settings) if settings.shared_clock_key else None)


@app.command()
def demo(
    patients: Annotated[int, typer.Option(help="Synthetic clinic size.")] = 2000,
    seed: Annotated[int, typer.Option(help="Random seed of the synthetic clinic.")] = 7,
    hours: Annotated[float, typer.Option(help="Simulated hours to run.")] = 72.0,
    seconds: Annotated[float, typer.Option(help="Real seconds the simulated day takes.")] = 50.0,
    canaries: Annotated[
        bool, typer.Option(help="Plant recognisable personal values (listed in canaries.txt).")
    ] = False,
    serve: Annotated[
        bool, typer.Option(help="Keep the console and the API up after the summary, until Ctrl-C.")
    ] = False,
) -> None:
    """Run everything on embedded defaults over one simulated clinic day and summarise it."""
    from outreach.demo import DemoOptions, run_demo

    settings = load_settings()
    options = DemoOptions(
        patients=patients,
        seed=seed,
        simulated_hours=hours,
        real_seconds=seconds,
        work_dir=settings.var_dir / "demo",
        canaries=canaries,
        serve=serve,
    )
    raise typer.Exit(code=run_demo(options))
