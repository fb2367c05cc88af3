"""The README is the front door, and the documents behind it cannot drift from the code: its
configuration table is held to ``Settings`` (every name it reads, no other, and each default
the table states), and every relative link in the README, ``docs/`` and ``bench/README.md``
leads to a file (and a heading) that exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import AliasChoices, SecretStr
from pydantic.fields import FieldInfo

from bot.config import Settings
from bot.setting_names import known_names

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCUMENTS = [README, *sorted((ROOT / "docs").glob("*.md")), ROOT / "bench" / "README.md"]
README_MAX_LINES = 250

FENCE = re.compile(r"^ *```.*?^ *```$", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6} +(.+?) *$", re.MULTILINE)


def config_table() -> dict[str, str]:
    """Each environment name in the README's Configuration table, with its Default cell."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Configuration", 1)[1].split("\n## ", 1)[0]
    table: dict[str, str] = {}
    for row in section.splitlines():
        if row.startswith("| `"):
            names, default = (cell.strip() for cell in row.strip("|").split("|")[:2])
            for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", names):
                assert name not in table, f"{name} is in the table twice"
                table[name] = default
    return table


def fields_by_name() -> dict[str, FieldInfo]:
    """Each environment name ``Settings`` reads, with the field that reads it."""
    prefix = str(Settings.model_config.get("env_prefix") or "").upper()
    found = {}
    for name, field in Settings.model_fields.items():
        found[prefix + name.upper()] = field
        alias = field.validation_alias
        for choice in alias.choices if isinstance(alias, AliasChoices) else []:
            if isinstance(choice, str):
                found[choice.upper()] = field
    return found


def written(default: object) -> str | None:
    """A field's default as the table writes it, or None when it has none to state."""
    if isinstance(default, SecretStr):
        default = default.get_secret_value()
    if default is None or default == "":
        return None
    if isinstance(default, bool):
        return str(default).lower()
    if isinstance(default, float) and default.is_integer():
        return str(int(default))
    return str(default)


def test_the_configuration_table_names_every_setting_and_no_other() -> None:
    table = set(config_table())
    assert set(fields_by_name()) == known_names(Settings)
    assert known_names(Settings) - table == set(), "settings missing from the README's table"
    assert table - known_names(Settings) == set(), "names in the README's table that nothing reads"


def test_the_configuration_table_states_each_default_as_settings_has_it() -> None:
    """A default in a code span is the field's default; one starting with — means the field
    has none (unset or required); one in words (computed at start-up) means it has none too."""
    fields = fields_by_name()
    for name, cell in config_table().items():
        default = written(fields[name].default)
        literal = re.fullmatch(r"`([^`]*)`", cell)
        if literal:
            assert default == literal[1], f"{name}: the README says {cell}, Settings {default!r}"
        else:
            assert default is None, f"{name}: the README says {cell!r}, Settings {default!r}"
    assert config_table()["PORT"] == "`3000`"  # the parsing reads the Default column


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    return {slug(heading) for heading in HEADING.findall(text)}


def links(path: Path) -> list[str]:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    return [link for link in LINK.findall(text) if not re.match(r"[a-z]+:", link)]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_relative_link_leads_to_a_file_and_heading_that_exist(document: Path) -> None:
    assert document.is_file()
    for link in links(document):
        target, _, anchor = link.partition("#")
        path = (document.parent / target).resolve() if target else document
        assert path.exists(), f"{document.name}: {link} leads nowhere"
        if anchor:
            assert path.suffix == ".md", link
            assert anchor in anchors(path), f"{document.name}: no heading for {link}"


def test_the_readme_is_a_front_door() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= README_MAX_LINES
    headings = HEADING.findall(FENCE.sub("", text))
    for section in ("Quickstart", "Set up in Slack", "Configuration", "Deploy"):
        assert section in headings
    for document in DOCUMENTS[1:]:
        assert str(document.relative_to(ROOT)) in text, f"the README does not lead to {document}"
