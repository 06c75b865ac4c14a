"""Numbers in the README come from commands: each writes its block between a pair of markers,
`<!-- NAME -->` and `<!-- /NAME -->`, so a table is regenerated, never edited by hand."""

from __future__ import annotations

from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def replace_block(name: str, text: str, readme: Path = README) -> None:
    """Put `text` between the README's markers for `name` (they must exist)."""
    begin, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    content = readme.read_text()
    if begin not in content or end not in content:
        raise SystemExit(f"{readme} has no {begin} ... {end} markers to write between")
    head, rest = content.split(begin, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(f"{head}{begin}\n{text.strip()}\n{end}{tail}")
