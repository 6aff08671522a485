from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from posture.release_catalog import BUNDLED_PATH, get_catalog


def test_it_imports_a_newer_catalog_and_prefers_it(
    tmp_path: Path, settings: object, capsys: pytest.CaptureFixture[str]
) -> None:
    settings.DATA_DIR = tmp_path  # type: ignore[attr-defined]
    data = json.loads(BUNDLED_PATH.read_text())
    data["catalog_version"] = "2999.01.01"
    source = tmp_path / "newer.json"
    source.write_text(json.dumps(data))
    call_command("refresh_catalog", "--from", str(source))
    assert "Imported" in capsys.readouterr().out
    assert get_catalog().version == "2999.01.01"


def test_it_refuses_a_file_that_is_not_a_catalog(tmp_path: Path, settings: object) -> None:
    settings.DATA_DIR = tmp_path  # type: ignore[attr-defined]
    source = tmp_path / "junk.json"
    source.write_text("{not json")
    with pytest.raises(CommandError, match="nothing imported"):
        call_command("refresh_catalog", "--from", str(source))
    assert not (tmp_path / "catalog" / "kubernetes.json").exists()
