"""docs/configuration.md lists every environment variable the settings and gunicorn's config read."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# env.str("NAME", ...), env.int(\n    "NAME", ...), os.environ.get("NAME", ...)
READ = re.compile(r"""(?:env(?:\.\w+)?\(\s*|os\.environ\.get\(\s*)["']([A-Z][A-Z0-9_]+)["']""")


def variables_read() -> set[str]:
    names = set()
    for source in ("config/settings.py", "config/gunicorn.py"):
        names |= set(READ.findall((ROOT / source).read_text()))
    return names - {"DJANGO_SETTINGS_MODULE"}


def test_every_variable_read_is_documented():
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", (ROOT / "docs/configuration.md").read_text()))

    read = variables_read()

    assert len(read) > 80  # the pattern still finds the settings' reads
    assert sorted(read - documented) == []
