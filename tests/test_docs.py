"""The documentation keeps up with the code: every setting is in the README's table."""

from __future__ import annotations

from pathlib import Path

import pytest

from citytools.settings import Settings

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_documented_in_the_readme(name: str) -> None:
    row = f"| `CITYTOOLS_{name.upper()}` |"
    assert row in README.read_text(encoding="utf-8"), f"add {row} to the README's settings"
