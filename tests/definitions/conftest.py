from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


@pytest.fixture
def in_tests_folder(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run from this folder so problems name files as `fixtures/<name>.yaml`."""
    monkeypatch.chdir(HERE)
    return HERE
