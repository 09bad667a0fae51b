"""The docs keep up with the code: every environment variable the settings read is in the README's configuration
table, and every page the README links to exists."""

import ast
import re
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)
ENV_READERS = {"env", "os.environ.get", "os.getenv"}


def env_variables_read(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not (isinstance(node, ast.Call) and node.args):
            continue
        first, func = node.args[0], ast.unparse(node.func)
        is_name = isinstance(first, ast.Constant) and isinstance(first.value, str)
        if is_name and (func in ENV_READERS or func.startswith("env.")):
            names.add(first.value)
    return names


def configuration_table() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    return "\n".join(line for line in section.splitlines() if line.startswith("|"))


def test_the_reader_finds_variables_however_they_are_read(tmp_path):
    source = tmp_path / "s.py"
    source.write_text('A = env.int("A_X", default=1)\nB = env("B_X")\nC = os.environ.get("C_X", "1")\nD = f("D_X")\n')

    assert env_variables_read(source) == {"A_X", "B_X", "C_X"}


def test_every_variable_the_settings_read_is_in_the_configuration_table():
    read = env_variables_read(ROOT / "config" / "settings.py") | env_variables_read(ROOT / "config" / "gunicorn.py")
    table = configuration_table()

    assert len(read) > 80
    missing = sorted(name for name in read if f"`{name}`" not in table)
    assert missing == [], f"add them to README.md, Configuration: {missing}"


def test_every_local_link_of_the_readme_and_docs_resolves():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    broken = []
    for page in pages:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if not re.match(r"[a-z]+://", target) and not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert len(pages) > 5
    assert broken == []
