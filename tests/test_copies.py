"""Every `# Copied from rnnformers.models.<family>.modeling_<family>.<name>` marker under src/rnnformers/models names
code that is repeated on purpose (a saved folder's modeling file must run with transformers alone, so it cannot import
a sibling family): the copy must match the original exactly, as transformers' `utils/check_copies.py` checks.

The marker sits on the line above a `def` or `class` (at any indentation, so methods can be marked as
`<Class>.<method>`); `# Copied from <path> with Old->New` applies those replacements to the original first. Markers are
found generically, so a new family's copies are checked without changes here.
"""

import ast
import re
from pathlib import Path

import pytest


MODELS = Path(__file__).resolve().parents[1] / "src" / "rnnformers" / "models"
MARKER = re.compile(
    r"^\s*# Copied from rnnformers\.models\.(?P<family>\w+)\.(?P<module>\w+)\.(?P<name>[A-Za-z_][\w.]*)"
    r"(?: with (?P<replacements>.+?))?\s*$"
)
DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def definitions(path: Path) -> dict[str, ast.AST]:
    """Every def/class of a file by qualified name (`Class.method` for nested ones)."""
    found = {}

    def visit(nodes, prefix):
        for node in nodes:
            if isinstance(node, DEFINITIONS):
                found[prefix + node.name] = node
                visit(node.body, f"{prefix}{node.name}.")

    visit(ast.parse(path.read_text(encoding="utf-8")).body, "")
    return found


def source_of(path: Path, node: ast.AST) -> str:
    """The text of a definition (decorators included), dedented to column 0."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    start = (node.decorator_list[0].lineno if node.decorator_list else node.lineno) - 1
    block = lines[start : node.end_lineno]
    indent = len(block[0]) - len(block[0].lstrip())
    return "".join(line[indent:] if line.strip() else "\n" for line in block)


def find_copies() -> list[tuple[Path, int, re.Match]]:
    """(file, marker line number, marker match) for every marker under src/rnnformers/models."""
    return [
        (path, number, match)
        for path in sorted(MODELS.rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if (match := MARKER.match(line))
    ]


COPIES = find_copies()


def test_markers_are_found():
    # The families repeat the recurrent building blocks; if no marker were found, the test below would check nothing.
    assert len(COPIES) >= 10, COPIES


@pytest.mark.parametrize(
    ("path", "line", "marker"),
    COPIES,
    ids=[f"{path.parent.name}:{line}:{marker['name']}" for path, line, marker in COPIES],
)
def test_copy_matches_its_original(path, line, marker):
    where = f"{path.relative_to(MODELS.parent)}:{line}"
    original_file = MODELS / marker["family"] / f"{marker['module']}.py"
    assert original_file.is_file(), f"{where}: no file {original_file.relative_to(MODELS.parent)}"
    assert original_file != path, f"{where}: a copy must name another family's file"
    original_node = definitions(original_file).get(marker["name"])
    assert original_node is not None, f"{where}: `{marker['name']}` is not defined in {original_file.name}"
    original = source_of(original_file, original_node)
    for pair in (marker["replacements"] or "").split(","):
        if pair.strip():
            old, new = (part.strip() for part in pair.split("->"))
            original = original.replace(old, new)

    copy_node = next((node for node in definitions(path).values()
                      if (node.decorator_list[0].lineno if node.decorator_list else node.lineno) == line + 1), None)
    assert copy_node is not None, f"{where}: a `# Copied from` marker must sit right above a def or class"
    assert source_of(path, copy_node) == original, (
        f"{where}: this copy of rnnformers.models.{marker['family']}.{marker['module']}.{marker['name']} differs from "
        "its original: update the copy (or the original and every copy)."
    )
