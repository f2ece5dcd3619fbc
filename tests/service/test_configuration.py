"""Every setting is documented, and the SQLite connection settings reach the connections."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from offerlab.settings import Settings
from offerlab.storage.db import make_engine

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = README.read_text()
    names = [
        "DATABASE_URL" if name == "database_url" else f"OFFERLAB_{name.upper()}"
        for name in Settings.model_fields
    ]
    assert [name for name in names if f"`{name}`" not in readme] == []


def test_sqlite_connections_get_durability_and_the_page_cache(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'offerlab.db'}", sqlite_cache_mib=48)
    with engine.connect() as connection:

        def pragma(name: str) -> object:
            return connection.execute(text(f"PRAGMA {name}")).scalar()

        assert pragma("journal_mode") == "wal"
        assert pragma("synchronous") == 2  # FULL
        assert pragma("foreign_keys") == 1
        assert pragma("cache_size") == -48 * 1024
    engine.dispose()


def test_the_service_passes_its_cache_setting_to_the_engine(tmp_path: Path) -> None:
    from offerlab.api.context import Services
    from offerlab.api.observability import Metrics

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'o.db'}", sqlite_cache_mib=7)
    services = Services(settings, metrics=Metrics())
    with services.engine.connect() as connection:
        assert connection.execute(text("PRAGMA cache_size")).scalar() == -7 * 1024
    services.engine.dispose()
