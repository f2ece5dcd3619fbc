"""Service settings, read once from the environment (12-factor) and passed down explicitly."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///offerlab.db"


class Settings(BaseSettings):
    """Every knob of the service. Environment variables use the prefix OFFERLAB_."""

    model_config = SettingsConfigDict(env_prefix="OFFERLAB_", extra="ignore", populate_by_name=True)

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        validation_alias=AliasChoices("DATABASE_URL", "OFFERLAB_DATABASE_URL"),
        description="SQLAlchemy URL: SQLite by default, postgresql+psycopg://... for production.",
    )
    max_batch_events: int = Field(default=1000, description="Largest event batch accepted.")
    max_body_bytes: int = Field(default=2 * 1024 * 1024, description="Largest request body.")
    bandit_update_check_seconds: float = Field(
        default=5.0,
        description="How often the service checks whether a bandit is due for a new allocation; "
        "0 disables the background updater (use `offerlab bandits update`).",
    )
    guardrail_check_seconds: float = Field(
        default=300.0,
        description="How often running experiments with auto_pause_on_guardrail are checked "
        "(by the same background thread); 0 disables it (use `offerlab guardrails check`).",
    )
    rollup_refresh_seconds: float = Field(
        default=10.0,
        ge=0,
        description="How often the background thread recomputes the per-unit rollups of the "
        "visitors whose events arrived since the last refresh, so results requests rarely do it "
        "(they still refresh what is left, so results stay exact); 0 leaves it to the requests.",
    )
    sqlite_cache_mib: int = Field(
        default=32,
        ge=1,
        description="SQLite page cache per connection, in MiB (SQLite's own default is 2): the "
        "index pages that inserts touch stay in memory; ingest ran 10-15% faster at 32 than at "
        "2 or 16. Pages are cached as they are read, up to this much per pooled connection.",
    )
    snapshot_max_age_seconds: int = Field(
        default=5, description="Cache-Control max-age of snapshots."
    )
    rate_limit_events: str = Field(
        default="1200/minute",
        description="Event batches per API key (`limits` syntax: 1200/minute, several joined "
        "by ;); empty disables the limit.",
    )
    rate_limit_assign: str = Field(
        default="60000/minute",
        description="Assign calls per API key (`limits` syntax: 60000/minute, several joined "
        "by ;); empty disables the limit.",
    )
    rate_limit_storage: str = Field(
        default="memory://",
        description="Where counters live: memory:// counts per process; use redis://... to share "
        "them between gunicorn workers.",
    )
    metrics_public: bool = Field(
        default=False,
        description="Serve /metrics without a key (only for a scraper on a private network); by "
        "default it needs a viewer or admin key as a bearer token, since it names experiments.",
    )
    key_cache_seconds: float = Field(
        default=30.0,
        ge=0,
        description="How long a worker trusts its cached lookup of an API key; a key revoked "
        "through another worker or the CLI is refused everywhere within this time (0: no cache).",
    )
    secret_key: str = Field(
        default="",
        description="Signs dashboard session cookies; set the same value on every worker. When "
        "empty, a random key is made per process (sign-ins then end at a restart).",
    )
    session_cookie_secure: bool = Field(
        default=False, description="Send the dashboard session cookie over HTTPS only."
    )
