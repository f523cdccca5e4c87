"""Bad input gets a clear error, never an internal one: every string argument and input field
of every query and mutation, sent hostile strings as variables (NUL and other control
characters, unpaired surrogates, huge strings, any unicode), is answered without
INTERNAL_SERVER_ERROR; and the limits refuse at the edge, with BAD_USER_INPUT, what the
database would choke on."""
import itertools
import json
import re
from typing import Any

import httpx
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    get_named_type,
    is_composite_type,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schema import build_schema
from schema.limits import ID_LENGTH, LENGTHS, SHORT_TEXT_LENGTH
from tests.helpers import Cast, gql

SCHEMA = build_schema()._schema
Path = tuple[str | int, ...]  # from the argument down to one String or ID
Site = tuple[str, str, Path]  # (operation type, root field, path)


def string_paths(type_: GraphQLInputType, seen: frozenset[str] = frozenset()) -> list[Path]:
    """Every place a String or ID sits in an input type."""
    if isinstance(type_, GraphQLNonNull):
        return string_paths(type_.of_type, seen)
    if isinstance(type_, GraphQLList):
        return [(0, *path) for path in string_paths(type_.of_type, seen)]
    if isinstance(type_, GraphQLInputObjectType) and type_.name not in seen:
        return [(name, *path) for name, field in type_.fields.items()
                for path in string_paths(field.type, seen | {type_.name})]
    if isinstance(type_, GraphQLScalarType) and type_.name in ("String", "ID"):
        return [()]
    return []


SITES: list[Site] = [
    (operation, field_name, (arg_name, *path))
    for operation, root in (("query", SCHEMA.query_type), ("mutation", SCHEMA.mutation_type))
    if root is not None
    for field_name, field in root.fields.items()
    for arg_name, arg in field.args.items()
    for path in string_paths(arg.type)
]

HOSTILE = st.one_of(
    st.sampled_from(["\x00", "a\x00b", "\x01\x07\x1b[31m", "\x7f", "\u0085", "\ud800",
                     "x\udfffy", "\u202eevil", "\t\n\r", "😀" * 50, "Ünïcödé", "%_\\'\"",
                     "x" * 100_000, "\x00" * 10_000]),
    st.text(st.characters(exclude_categories=()), max_size=40),  # surrogates included
    st.integers(min_value=90, max_value=12_000).map(lambda n: "é" * n),
)

ROLE_OF_RULE = {"ADMIN": "admin", "REVIEWER": "reviewer", "SUPPLIER": "supplier_a_user",
                "CUSTOMER": "customer_a_user", "AUDITOR": "firm_a_user"}
UNIQUE = itertools.count()


def who_may_call(field: GraphQLField) -> str:
    """Signed in as the role the field requires (from its description), so the hostile value
    reaches the resolver and the database, not a permission denial."""
    found = re.search(r"Requires ([A-Z_|]+)\.", field.description or "")
    rule = found.group(1).split("|")[0] if found else "SUPPLIER"
    return ROLE_OF_RULE.get(rule, "supplier_a_user")


def plausible(type_: GraphQLInputType, name: str, cast: Cast) -> Any:
    """A value the resolver would get far with: required fields only, realistic strings."""
    if isinstance(type_, GraphQLNonNull):
        return plausible(type_.of_type, name, cast)
    if isinstance(type_, GraphQLList):
        return [plausible(type_.of_type, name, cast)]
    if isinstance(type_, GraphQLInputObjectType):
        return {n: plausible(f.type, n, cast) for n, f in type_.fields.items()
                if isinstance(f.type, GraphQLNonNull)}
    if isinstance(type_, GraphQLEnumType):
        return next(iter(type_.values))
    return {"ID": cast.factory_gid("alpha"), "Int": 2026, "Float": 1.0, "Boolean": True,
            "Date": "2030-01-01", "DateTime": "2030-01-01T00:00:00+00:00"}.get(
        type_.name, {"email": f"hostile{next(UNIQUE)}@example.com", "contactEmail":
                     "plant@example.com", "password": "correct horse battery staple 42",
                     "country": "BD", "auditFeeAmount": "100.00"}.get(name, "Plain text"))


def put(value: Any, path: Path, hostile: str) -> Any:
    """`value` with `hostile` at `path` (containers made on the way as needed)."""
    if not path:
        return hostile
    head, rest = path[0], path[1:]
    if isinstance(head, int):
        items = list(value) if isinstance(value, list) and value else [None]
        items[0] = put(items[0], rest, hostile)
        return items
    container = dict(value) if isinstance(value, dict) else {}
    container[head] = put(container.get(head), rest, hostile)
    return container


def operation(site: Site, hostile: str, cast: Cast) -> tuple[str, dict[str, Any], str]:
    kind, field_name, path = site
    field = getattr(SCHEMA, f"{kind}_type").fields[field_name]
    variables = {name: plausible(arg.type, name, cast) for name, arg in field.args.items()
                 if isinstance(arg.type, GraphQLNonNull) or name == path[0]}
    variables[path[0]] = put(variables[path[0]], path[1:], hostile)
    declared = ", ".join(f"${n}: {field.args[n].type}" for n in variables)
    passed = ", ".join(f"{n}: ${n}" for n in variables)
    selection = "{ __typename }" if is_composite_type(get_named_type(field.type)) else ""
    text = f"{kind} Hostile({declared}) {{ {field_name}({passed}) {selection} }}"
    return text, variables, who_may_call(field)


async def post(client: httpx.AsyncClient, query: str, token: str | None = None,
               **variables: Any) -> httpx.Response:
    """JSON with escapes for non-ASCII (an unpaired surrogate cannot be sent as UTF-8)."""
    headers = {"content-type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return await client.post("/graphql", headers=headers, content=json.dumps(
        {"query": query, "variables": variables}, ensure_ascii=True).encode())


def test_every_query_and_mutation_with_string_inputs_is_covered() -> None:
    covered = {field for _, field, _ in SITES}
    assert {"signUp", "login", "factories", "verifyCertificate", "verifyAuditor",
            "submitAuditReport", "submitCorrectiveActionPlan", "requestConnection"} <= covered
    assert len(SITES) > 60


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(site=st.sampled_from(SITES), hostile=HOSTILE)
async def test_no_string_input_ever_causes_an_internal_error(
        client: httpx.AsyncClient, cast: Cast, site: Site, hostile: str) -> None:
    text, variables, who = operation(site, hostile, cast)
    response = await post(client, text, cast.token(who), **variables)
    assert response.status_code < 500, (site, hostile[:50], response.text[:300])
    assert "INTERNAL_SERVER_ERROR" not in response.text, (site, hostile[:50], response.text)


# ------------------------------------------------------------------ the edge rules

@pytest.mark.parametrize("hostile", ["\x00", "Alpha\x00", "\x1b[2J", "\x7f", "\x9b",
                                     "\ud800"])
async def test_a_control_character_in_a_variable_is_bad_user_input(
        client: httpx.AsyncClient, hostile: str) -> None:
    body = (await post(client, "query($n: String!) { verifyCertificate(number: $n) { valid } }",
                       n=hostile)).json()
    [error] = body["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": "number",
                                   "reason": "CONTROL_CHARACTER"}


async def test_a_control_character_in_a_literal_or_input_object_is_bad_user_input(
        client: httpx.AsyncClient) -> None:
    literal = await gql(client, '{ factories(filter: {search: "a\\u0000b"}) { totalCount } }')
    assert literal["errors"][0]["extensions"]["argument"] == "filter.search"
    sign_up = await gql(client, "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken } }",
                        i={"email": "a@example.com", "password": "correct horse battery 42",
                           "name": "Ann\x00", "organizationName": "Org",
                           "organizationKind": "SUPPLIER"})
    assert sign_up["data"] is None
    assert sign_up["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert sign_up["errors"][0]["extensions"]["argument"] == "input.name"


@pytest.mark.parametrize(("field", "limit"), [
    ("name", SHORT_TEXT_LENGTH), ("email", LENGTHS["email"]), ("password", LENGTHS["password"]),
])
async def test_an_over_long_value_is_refused_with_its_limit(client: httpx.AsyncClient,
                                                            field: str, limit: int) -> None:
    values = {"email": "a@example.com", "password": "correct horse battery 42", "name": "Ann",
              "organizationName": "Org", "organizationKind": "SUPPLIER"}
    body = await gql(client, "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken } }",
                     i={**values, field: "x" * (limit + 1)})
    assert body["errors"][0]["extensions"] == {
        "code": "BAD_USER_INPUT", "argument": f"input.{field}", "reason": "TOO_LONG",
        "maxLength": limit}


async def test_ids_and_list_items_are_bounded_and_multi_line_text_keeps_its_newlines(
        client: httpx.AsyncClient, cast: Cast) -> None:
    long_id = await gql(client, "query($id: ID!) { factory(id: $id) { name } }",
                        id="x" * (ID_LENGTH + 1))
    assert long_id["errors"][0]["extensions"]["reason"] == "TOO_LONG"
    listed = await gql(client, "mutation($i: CreateFactoryInput!) { createFactory(input: $i) "
                       "{ userErrors { code } } }", cast.token("supplier_a_user"),
                       i={"name": "Plant", "country": "BD", "productCategories": ["ok", "\x00"]})
    assert listed["errors"][0]["extensions"]["argument"] == "input.productCategories[1]"
    multi_line = await gql(client, "mutation($i: CreateFactoryInput!) { createFactory(input: $i) "
                           "{ factory { address } userErrors { code } } }",
                           cast.token("supplier_a_user"),
                           i={"name": "Plant", "country": "BD", "address": "Plot 4\r\nZone\t2"})
    assert multi_line["data"]["createFactory"]["factory"]["address"] == "Plot 4\r\nZone\t2"


async def test_a_variable_default_is_checked_too(client: httpx.AsyncClient) -> None:
    body = await gql(client, 'query($n: String! = "A\\u0000") { verifyCertificate(number: $n) '
                     "{ valid } }")
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
