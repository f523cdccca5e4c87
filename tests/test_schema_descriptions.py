"""The schema explains itself: every type, field, argument, input field, enum value and directive
has a description (more than its own name), and the scalars say which specification they follow."""
import re

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    specified_directives,
)

from overrides.guards import Guard
from overrides.schema import graphql_schema
from schema import build_schema

BUILT_IN = {"String", "Int", "Float", "Boolean", "ID"}


def _words(text: str) -> list[str]:
    """camelCase and snake_case split into lower-case words."""
    return re.findall(r"[a-z0-9]+", re.sub(r"([a-z])([A-Z])", r"\1 \2", text).lower())


def _says_more_than(name: str, description: str | None) -> bool:
    """A description that only repeats its name ("The id.") explains nothing."""
    said = [w for w in _words(description or "") if w not in {"the", "a", "an", "of", "this"}]
    return bool(said) and said != _words(name)


def undescribed(schema: GraphQLSchema) -> list[str]:
    """Every element of the schema without a description of its own, by coordinate."""
    found: list[tuple[str, str | None]] = []
    for name, named in schema.type_map.items():
        if name.startswith("__") or name in BUILT_IN:
            continue
        found.append((name, named.description))
        if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in named.fields.items():
                found.append((f"{name}.{field_name}", field.description))
                found += [(f"{name}.{field_name}({arg})", a.description)
                          for arg, a in field.args.items()]
        elif isinstance(named, GraphQLInputObjectType):
            found += [(f"{name}.{f}", field.description) for f, field in named.fields.items()]
        elif isinstance(named, GraphQLEnumType):
            found += [(f"{name}.{v}", value.description) for v, value in named.values.items()]
    for directive in schema.directives:
        if directive not in specified_directives:
            found.append((f"@{directive.name}", directive.description))
            found += [(f"@{directive.name}({arg})", a.description)
                      for arg, a in directive.args.items()]
    return [where for where, text in found
            if not _says_more_than(re.split(r"[.(@]", where.rstrip(")"))[-1], text)]


def test_every_type_field_argument_and_enum_value_is_described() -> None:
    missing = undescribed(graphql_schema(build_schema()))
    assert missing == [], f"{len(missing)} undescribed:\n" + "\n".join(missing)


def test_a_guarded_field_says_what_it_is_besides_its_rule() -> None:
    """The rule's sentence is appended from its declaration; the field still says what it is."""
    bare = []
    for type_name, named in graphql_schema(build_schema()).type_map.items():
        for field_name, field in getattr(named, "fields", {}).items():
            definition = (field.extensions or {}).get("strawberry-definition")
            guards = [e for e in getattr(definition, "extensions", ()) if isinstance(e, Guard)]
            if not guards:
                continue
            rule = guards[0].rules[-1].description
            assert (field.description or "").endswith(rule), f"{type_name}.{field_name}"
            own = (field.description or "")[:-len(rule)]
            if not _says_more_than(field_name, own):
                bare.append(f"{type_name}.{field_name}")
    assert bare == []


def test_the_check_finds_what_is_missing() -> None:
    from graphql import build_schema as from_sdl

    sdl = '''"Where reads start." type Query {
                 "Looks one up." thing(id: ID): Kind  "The kind." kind: Kind }
             "Sizes." enum Kind { "Over ten." BIG SMALL }'''
    # No description, or one that only says its name again.
    assert undescribed(from_sdl(sdl)) == ["Query.thing(id)", "Query.kind", "Kind.SMALL"]


def test_scalars_name_their_specification() -> None:
    schema = graphql_schema(build_schema())
    for name in ("Date", "DateTime", "Decimal"):
        scalar = schema.type_map[name]
        assert isinstance(scalar, GraphQLScalarType)
        assert scalar.specified_by_url and scalar.specified_by_url.startswith("https://"), name
