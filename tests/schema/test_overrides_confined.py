"""Nothing outside overrides/ reaches into Strawberry or graphql-core: no private name (one of
theirs, not ours, starting with `_`), no import from a private module, no subclass of theirs
but the documented plug-in points (SchemaExtension, GraphQLError). A Strawberry upgrade then
has one package to check, with its tests beside this one."""
import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FRAMEWORKS = ("strawberry", "graphql")
PACKAGES = ("app.py", "cli.py", "telemetry.py", "schema", "resolvers", "auth", "db", "web",
            "infra", "tasks", "demo", "overrides")
# The documented ways in: a schema extension's hooks (on_execute, on_validate, ...), and errors
# raised as GraphQLError with extensions.
PLUG_IN_BASES = {"SchemaExtension", "GraphQLError"}


def modules() -> Iterator[Path]:
    for name in PACKAGES:
        path = ROOT / name
        yield from sorted(path.rglob("*.py")) if path.is_dir() else [path]


def outside_overrides() -> list[Path]:
    return [p for p in modules() if p.relative_to(ROOT).parts[0] != "overrides"]


def our_private_names() -> set[str]:
    """Every `_name` our own code outside overrides/ defines (functions, classes, attributes,
    variables): overrides/ stores framework objects under names like the framework's own."""
    names: set[str] = set()
    for path in outside_overrides():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
    return {n for n in names if n.startswith("_")}


def framework_names(tree: ast.Module) -> dict[str, str]:
    """Local name -> the framework module it was imported from."""
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                and node.module.split(".")[0] in FRAMEWORKS:
            for alias in node.names:
                found[alias.asname or alias.name] = node.module
    return found


def reaches(path: Path, ours: set[str]) -> list[str]:
    tree = ast.parse(path.read_text())
    imported = framework_names(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module \
                and node.module.split(".")[0] in FRAMEWORKS:
            private = [part for part in node.module.split(".") if part.startswith("_")]
            private += [a.name for a in node.names if a.name.startswith("_")]
            if private:
                found.append(f"line {node.lineno}: imports {node.module}.{private}")
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_") \
                and not node.attr.startswith("__") and node.attr not in ours:
            found.append(f"line {node.lineno}: reads .{node.attr}")
        elif isinstance(node, ast.ClassDef):
            for base in node.bases:
                name = base.id if isinstance(base, ast.Name) else getattr(base, "attr", None)
                framework = (name in imported or isinstance(base, ast.Attribute)
                             and isinstance(base.value, ast.Name)
                             and base.value.id in FRAMEWORKS)
                if framework and name not in PLUG_IN_BASES:
                    found.append(f"line {node.lineno}: class {node.name} subclasses {name}")
    return found


def test_no_module_outside_overrides_reaches_into_the_framework() -> None:
    ours = our_private_names()
    found = {str(p.relative_to(ROOT)): r for p in outside_overrides() if (r := reaches(p, ours))}
    assert found == {}


def test_the_scan_sees_each_kind_of_reach(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text(
        "import strawberry\n"
        "from strawberry.asgi import GraphQL\n"
        "from strawberry.schema._private import thing\n"
        "class View(GraphQL): pass\n"
        "class S(strawberry.Schema): pass\n"
        "def f(info):\n    return info._raw_info\n")
    assert [line.split(":")[0] for line in reaches(source, set())] == [
        "line 3", "line 4", "line 5", "line 7"]
