"""Pages below a factory (a factory's audits, its access log): Relay connections whose rows,
cursors and page info come from the same statement, paged exactly as the resolvers page."""
import dataclasses
from typing import TYPE_CHECKING, Any

from graphql import FieldNode, GraphQLObjectType, get_named_type
from sqlalchemy import literal_column

from db import Factory
from resolvers.compiled.objects import OBJECTS, Relation
from resolvers.compiled.selection import CURSOR, Unsupported, Walk, collect, merged
from resolvers.compiled.sqltext import quote

if TYPE_CHECKING:
    from resolvers.compiled.compiler import At, Compiler, Known


def page(c: "Compiler", relation: Relation, connection: GraphQLObjectType,
         nodes: list[FieldNode], known: "Known", at: "At", field_def: Any) -> tuple[str, Walk]:
    node_type = get_named_type(connection.fields["nodes"].type)
    assert isinstance(node_type, GraphQLObjectType)
    prefix = c.arguments(relation.page or "", field_def, nodes[0])
    below = at.child(f"t{next(c.aliases)}", relation, OBJECTS[node_type.name]).taking(prefix)
    # Rows of other factories: ranked on their own, each joined to its factory's access after.
    entering = relation.enters
    relation = dataclasses.replace(relation, enters=None)
    t, order, add = below.alias, below.format(relation.order), c.params.add
    first = add(f"{prefix}_first", "int")
    if relation.where:
        add(f"{prefix}_status", "text")
    if relation.page == "offset":  # cursors are positions: schema.factory's audits
        offset = add(f"{prefix}_offset", "int")
        ranked = (f"(SELECT {t}.*, row_number() OVER (ORDER BY {order}) AS _n "
                  f"FROM {c.source(relation, below)}) {t}")
        shown = f"{ranked} WHERE {t}._n > {offset} AND {t}._n <= {offset} + {first}"
        cursor = f"json_build_array({t}._n)"
        info = {"hasNextPage": f"{offset} + {first} < (SELECT count(*) FROM {ranked})",
                "hasPreviousPage": f"{offset} > 0"}
    else:  # keyset cursors: resolvers.access_log.page
        has_after = add(f"{prefix}_has_after", "boolean")
        add(f"{prefix}_after_at", "timestamptz")
        add(f"{prefix}_after_id", "bigint")
        after = below.format(relation.after or "")
        ranked = (f"(SELECT {t}.*, row_number() OVER (ORDER BY {order}) AS _n "
                  f"FROM {c.source(relation, below)} AND (NOT {has_after} OR {after}) "
                  f"ORDER BY {order} LIMIT {first} + 1) {t}")
        shown = f"{ranked} WHERE {t}._n <= {first}"
        cursor = below.format(relation.cursor or "")
        info = {"hasNextPage": f"(SELECT count(*) FROM {ranked}) > {first}",
                "hasPreviousPage": has_after}
    if entering:
        row = c.factory_select([Factory.id == literal_column(below.format(entering))])
        shown = shown.replace(f") {t} WHERE ", f") {t} CROSS JOIN LATERAL ({row}) p WHERE ", 1)
    info["startCursor"] = f"(SELECT {cursor} FROM {shown} ORDER BY {t}._n LIMIT 1)"
    info["endCursor"] = f"(SELECT {cursor} FROM {shown} ORDER BY {t}._n DESC LIMIT 1)"
    info["__typename"] = "'PageInfo'"
    total = f"(SELECT count(*) FROM {c.source(relation, below)})"

    pairs, walk = [], Walk()
    for key, fields in collect(merged(nodes), c.fragments, connection.name).items():
        name = fields[0].name.value
        if name == "__typename":
            value = quote(connection.name)
        elif name == "totalCount":
            value = total
        elif name == "pageInfo":
            value, walk.children[key] = page_info(c, fields, info)
        elif name == "nodes":
            node, walk.children[key] = c.object(node_type, merged(fields), known, below)
            value = f"(SELECT coalesce(json_agg({node} ORDER BY {t}._n), '[]') FROM {shown})"
        elif name == "edges":
            edge, walk.children[key] = _edge(c, fields, node_type, known, below, cursor)
            value = f"(SELECT coalesce(json_agg({edge} ORDER BY {t}._n), '[]') FROM {shown})"
        else:
            raise Unsupported(f"{connection.name}.{name}")
        pairs.append(f"{quote(key)}, {value}")
    return f"json_build_object({', '.join(pairs)})", walk


def page_info(c: "Compiler", fields: list[FieldNode], info: dict[str, str]) -> tuple[str, Walk]:
    """A PageInfo object from the SQL of each of its fields (cursors marked for Python)."""
    pairs, walk = [], Walk()
    for key, found in collect(merged(fields), c.fragments, "PageInfo").items():
        name = found[0].name.value
        if name not in info:
            raise Unsupported(f"PageInfo.{name}")
        if name.endswith("Cursor"):
            walk.children[key] = CURSOR
        pairs.append(f"{quote(key)}, {info[name]}")
    return f"json_build_object({', '.join(pairs)})", walk


def _edge(c: "Compiler", fields: list[FieldNode], node_type: GraphQLObjectType, known: "Known",
          below: "At", cursor: str) -> tuple[str, Walk]:
    pairs, walk = [], Walk()
    edge_type = f"{node_type.name}Edge"
    for key, found in collect(merged(fields), c.fragments, edge_type).items():
        name = found[0].name.value
        if name == "cursor":
            value, walk.children[key] = cursor, CURSOR
        elif name == "node":
            value, walk.children[key] = c.object(node_type, merged(found), known, below)
        elif name == "__typename":
            value = quote(edge_type)
        else:
            raise Unsupported(f"{edge_type}.{name}")
        pairs.append(f"{quote(key)}, {value}")
    return f"json_build_object({', '.join(pairs)})", walk
