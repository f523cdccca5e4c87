"""Imports point one way (docs/DESIGN.md, "Layout"): a module imports its own package and the
packages in the layers below its own, never one above or beside it. Read from the source with
ast, so an import inside a function counts as much as one at the top."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Top to bottom. Packages in one layer do not import each other.
LAYERS: list[set[str]] = [
    {"cli"},  # the `escp` command line
    {"app"},  # builds the Starlette application
    {"telemetry"},  # request ids, the request log, /metrics
    {"tasks", "demo"},  # background work beside requests; the demo data set
    {"schema"},  # GraphQL types; field permissions declared
    {"overrides"},  # everything we subclass, patch or reach into in Strawberry / graphql-core
    {"web"},  # HTTP endpoints other than /graphql, and their helpers
    {"resolvers"},  # what queries and mutations do; loaders; the compiled read path
    {"infra"},  # event hub, mailer, document store, metrics: no GraphQL, no business rule
    {"auth"},  # passwords, tokens, viewer, access, rules, row policies
    {"db"},  # models, engine, settings, shared SQL
]
LEVEL = {name: level for level, names in enumerate(LAYERS) for name in names}


def our_modules() -> list[Path]:
    files = [ROOT / f"{name}.py" for name in LEVEL if (ROOT / f"{name}.py").exists()]
    for name in LEVEL:
        if (ROOT / name).is_dir():
            files += sorted((ROOT / name).rglob("*.py"))
    return files


def imported(path: Path) -> set[str]:
    """The top-level names of our packages that `path` imports."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names & LEVEL.keys()


def package_of(path: Path) -> str:
    return path.relative_to(ROOT).parts[0].removesuffix(".py")


@pytest.mark.parametrize("path", our_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_down(path: Path) -> None:
    own = package_of(path)
    upward = {name for name in imported(path)
              if name != own and LEVEL[name] <= LEVEL[own]}
    assert not upward, f"{path.relative_to(ROOT)} imports {sorted(upward)}, at or above {own}"


def test_every_package_has_a_layer() -> None:
    """A new top-level package must be placed in LAYERS (and in the README's layout)."""
    ignored = {"tests", "bench", "migrations", "docs", "build"}
    packages = {p.name for p in ROOT.iterdir()
                if p.is_dir() and (p / "__init__.py").exists() and p.name not in ignored}
    modules = {p.stem for p in ROOT.glob("*.py")}
    assert packages | modules <= LEVEL.keys()


def test_the_check_sees_an_upward_import(tmp_path: Path) -> None:
    """The scan reads imports inside functions too (a resolver importing the schema lazily)."""
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from schema.ids import encode_id\n    import web.media\n")
    assert imported(source) == {"schema", "web"}


def test_the_readme_layout_names_every_package() -> None:
    readme = (ROOT / "README.md").read_text()
    layout = readme[readme.index("## Layout"):]
    layout = layout[:layout.index("\n## ", 1)] if "\n## " in layout[1:] else layout
    for name in LEVEL:
        shown = f"`{name}.py`" if (ROOT / f"{name}.py").exists() else f"`{name}/`"
        assert shown in layout, name
