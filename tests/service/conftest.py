from __future__ import annotations

from pathlib import Path

import pytest

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"


@pytest.fixture
def applied(app, sessions, clock):  # type: ignore[no-untyped-def]
    """The shipped example experiments, applied to the test database."""
    from offerlab.definitions import load_definitions
    from offerlab.services.experiments import apply_definitions
    from offerlab.storage.db import session_scope

    loaded = load_definitions(EXPERIMENTS)
    assert loaded.ok, loaded.problems
    with session_scope(sessions) as session:
        apply_definitions(session, loaded.experiments, now=clock())
    app.extensions["offerlab"].snapshots.invalidate()
    return {experiment.key: experiment for experiment in loaded.experiments}


@pytest.fixture
def apply_yaml(app, sessions, clock, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Apply one experiment YAML text, as `offerlab apply` would."""
    from offerlab.definitions import load_definitions
    from offerlab.services.experiments import apply_definitions
    from offerlab.storage.db import session_scope

    def apply(text: str) -> None:
        folder = tmp_path / f"defs-{len(list(tmp_path.iterdir()))}"
        folder.mkdir()
        (folder / "experiment.yaml").write_text(text)
        loaded = load_definitions(folder)
        assert loaded.ok, loaded.problems
        with session_scope(sessions) as session:
            apply_definitions(session, loaded.experiments, now=clock())
        app.extensions["offerlab"].snapshots.invalidate()

    return apply
