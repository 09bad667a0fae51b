"""Dispense settings that depend on the database (read in a fresh process: settings are read once)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SHOW = "import json, config.settings as s; print(json.dumps([s.DISPENSE_BATCH_SIZE, s.DRAMATIQ_EMBEDDED_THREADS]))"


def settings_with(tmp_path: Path, **env: str) -> list:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("DISPENSE_", "DRAMATIQ_", "DATABASE_URL"))}
    done = subprocess.run(
        [sys.executable, "-c", SHOW], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**keep, "DEBUG": "1", "SHUTTER_VAR_DIR": str(tmp_path), **env},
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_batch_size_is_5000_on_sqlite_and_1000_on_postgresql_unless_set(tmp_path):
    assert settings_with(tmp_path) == [5000, 1]
    assert settings_with(tmp_path, DATABASE_URL="postgres://u:p@127.0.0.1:1/db") == [1000, 4]
    assert settings_with(tmp_path, DISPENSE_BATCH_SIZE="250")[0] == 250
    assert settings_with(tmp_path, DATABASE_URL="postgres://u:p@127.0.0.1:1/db", DISPENSE_BATCH_SIZE="7")[0] == 7
