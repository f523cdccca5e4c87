"""schema.graphql at the root is the exported schema, kept equal by this test."""
from pathlib import Path

from schema import export_sdl

ROOT = Path(__file__).resolve().parent.parent


def test_schema_graphql_equals_the_export() -> None:
    assert (ROOT / "schema.graphql").read_text() == export_sdl(), (
        "run: escp export-schema > schema.graphql")
