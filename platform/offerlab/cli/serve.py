"""`offerlab serve` (gunicorn in production, Flask's server with --dev) and `offerlab demo`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from offerlab.settings import Settings


@click.command("serve")
@click.option(
    "--host",
    default=lambda: os.environ.get("OFFERLAB_HOST", "127.0.0.1"),
    show_default="127.0.0.1 or $OFFERLAB_HOST",
)
@click.option(
    "--port",
    type=int,
    default=lambda: int(os.environ.get("OFFERLAB_PORT", "8000")),
    show_default="8000 or $OFFERLAB_PORT",
)
@click.option(
    "--workers",
    type=int,
    default=lambda: int(os.environ.get("OFFERLAB_WORKERS", str(2 * (os.cpu_count() or 1)))),
    show_default="2 x cores or $OFFERLAB_WORKERS",
)
@click.option("--dev", is_flag=True, help="Flask's development server instead of gunicorn.")
def serve_command(host: str, port: int, workers: int, dev: bool) -> None:
    """Run the service (database from $DATABASE_URL)."""
    from offerlab.api.app import create_app
    from offerlab.api.observability import configure_json_logging

    configure_json_logging(os.environ.get("OFFERLAB_LOG_LEVEL", "INFO"))
    if dev:
        create_app(Settings()).run(host=host, port=port, threaded=True)
        return
    run_gunicorn(host=host, port=port, workers=workers)


def run_gunicorn(*, host: str, port: int, workers: int) -> None:
    from gunicorn.app.base import BaseApplication

    class OfferlabServer(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            options: dict[str, Any] = {
                "bind": f"{host}:{port}",
                "workers": workers,
                "worker_class": "gthread",
                "threads": int(os.environ.get("OFFERLAB_THREADS", "4")),
                "graceful_timeout": 30,
                "accesslog": None,
            }
            for name, value in options.items():
                self.cfg.set(name, value)

        def load(self) -> Any:
            from offerlab.api.app import create_app

            return create_app(Settings())

    OfferlabServer().run()


@click.command("demo")
@click.option(
    "--database",
    type=click.Path(path_type=Path),
    default=Path("offerlab-demo.db"),
    show_default=True,
    help="SQLite file, recreated on every run.",
)
@click.option(
    "--experiments",
    "experiments_path",
    type=click.Path(path_type=Path),
    default=Path("experiments"),
    show_default=True,
)
@click.option("--port", type=int, default=8000, show_default=True)
@click.option(
    "--visitors",
    type=int,
    default=30_000,
    show_default=True,
    help="Simulated shoppers to send through the SDK.",
)
@click.option("--exit-when-done", is_flag=True, help="Stop the service after the traffic.")
def demo_command(
    database: Path, experiments_path: Path, port: int, visitors: int, exit_when_done: bool
) -> None:
    """Run the service on a fresh SQLite database and drive storefront traffic through the SDK."""
    from offerlab.services.demo import run_demo

    run_demo(
        database=database,
        experiments_path=experiments_path,
        port=port,
        visitors=visitors,
        keep_serving=not exit_when_done,
        echo=click.echo,
    )
