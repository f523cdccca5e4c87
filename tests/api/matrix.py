"""Reading one field of one object the way a client would, and naming what came back.

A probe asks for a single field in its own alias, so a denied non-null field (whose null
spreads to its parent) cannot hide a sibling's outcome. An object is reached either from
`node(id:)` or from `factory(id:)` through the fields holding it; a route like
`applications[application].fees[fee_audit]` picks the list item with that world key's id (or
`[#0]`: the first item). Where an item sits in its list is read first by a skeleton query of
ids, which no field rule can deny. The outcome is "ok" (a value), "absent" (null or not in its
list, and no error) or ("FORBIDDEN", requiredScope) for the first denial along the route.
"""
import re
from dataclasses import dataclass
from typing import Any

import httpx

from tests.api.world import World
from tests.helpers import gql

OK, ABSENT, FORBIDDEN = "ok", "absent", "FORBIDDEN"
Outcome = str | tuple[str, str]
MAX_ALIASES_PER_QUERY = 25
_STEP = re.compile(r"(\w+)(?:\[([#\w]+)\])?")
# Fields of an object type: a probe selects `__typename` inside them.
OBJECT_FIELDS = frozenset({
    "viewerAccess", "supplier", "currentCertificate", "certificates", "applications", "audits",
    "latestAudit", "correctiveActionPlans", "environmentalAssessments", "connections",
    "accessLog", "factory", "auditFirm", "fees", "payee", "leadAuditor", "findings",
    "findingsSummary", "report", "correctiveActionPlan", "audit", "actions", "finding",
    "evidence", "customer", "organization",
})


@dataclass(frozen=True)
class Route:
    """`root` is "factory" or the world key of a node of type `node_type`."""

    root: str
    node_type: str
    steps: tuple[str, ...]
    leaf: str

    def parsed(self) -> list[tuple[str, str | None]]:
        found = [_STEP.fullmatch(step) for step in self.steps]
        return [(m.group(1), m.group(2)) for m in found if m is not None]


def route(root: str, node_type: str, path: str, leaf: str) -> Route:
    return Route(root, node_type, tuple(s for s in path.split(".") if s), leaf)


def _selection(route_: Route, world: World, inner: str) -> str:
    for name, _ in reversed(route_.parsed()):
        inner = f"{name} {{ {inner} }}"
    if route_.root == "factory":
        return f'factory(id: "{world.gids["alpha"]}") {{ {inner} }}'
    return f'node(id: "{world.gids[route_.root]}") {{ ... on {route_.node_type} {{ {inner} }} }}'


def _leaf(field: str) -> str:
    return f"{field} {{ __typename }}" if field in OBJECT_FIELDS else field


def _skeleton_selection(route_: Route, world: World) -> str:
    inner = "__typename"
    for name, pick in reversed(route_.parsed()):
        ident = "" if pick is None else ("__typename " if pick.startswith("#") else "id ")
        inner = f"{name} {{ {ident}{inner} }}"
    return _selection(Route(route_.root, route_.node_type, (), ""), world, inner)


class Observer:
    """Every probe of one viewer, asked over HTTP in a few batched queries."""

    def __init__(self, client: httpx.AsyncClient, world: World, token: str | None) -> None:
        self.client, self.world, self.token = client, world, token

    async def outcomes(self, probes: dict[Any, Route]) -> dict[Any, Outcome]:
        skeletons = {_skeleton_selection(r, self.world) for r in probes.values()}
        skeleton = await self._ask({selection: selection for selection in skeletons})
        asked = await self._ask({key: _selection(r, self.world, _leaf(r.leaf))
                                 for key, r in probes.items()})
        return {key: self._outcome(r, skeleton[_skeleton_selection(r, self.world)], asked[key])
                for key, r in probes.items()}

    async def _ask(self, selections: dict[Any, str]) -> dict[Any, tuple[Any, list[dict]]]:
        """Each selection's (data, errors with the alias stripped from their paths)."""
        keys, answers = list(selections), {}
        for start in range(0, len(keys), MAX_ALIASES_PER_QUERY):
            chunk = keys[start:start + MAX_ALIASES_PER_QUERY]
            query = "{ " + " ".join(f"p{i}: {selections[k]}" for i, k in enumerate(chunk)) + " }"
            body = await gql(self.client, query, self.token)
            assert "data" in body and body["data"] is not None, body
            for i, key in enumerate(chunk):
                errors = [dict(e, path=e["path"][1:]) for e in body.get("errors", [])
                          if e.get("path", [None])[0] == f"p{i}"]
                answers[key] = (body["data"][f"p{i}"], errors)
        return answers

    def _outcome(self, route_: Route, skeleton: tuple[Any, list[dict]],
                 asked: tuple[Any, list[dict]]) -> Outcome:
        path, missing = self._concrete_path(route_, skeleton[0])
        data, errors = asked
        denials = sorted((e for e in errors if e["path"] == path[:len(e["path"])]),
                         key=lambda e: len(e["path"]))
        if denials:
            extensions = denials[0].get("extensions") or {}
            assert extensions.get("code") == FORBIDDEN, denials[0]
            return FORBIDDEN, extensions.get("requiredScope", "")
        # Errors elsewhere are siblings' (another audit's plan): not this field's outcome.
        if missing:
            return ABSENT
        value = data
        for part in path:
            if value is None:
                return ABSENT
            value = value[part]
        return OK if value is not None else ABSENT

    def _concrete_path(self, route_: Route, skeleton: Any) -> tuple[list[Any], bool]:
        """The response path of the probed field, and whether a picked item is missing."""
        path: list[Any] = []
        value = skeleton
        for name, pick in route_.parsed():
            path.append(name)
            value = value.get(name) if isinstance(value, dict) else None
            if pick is None:
                continue
            if value is None:
                return path, True
            if pick.startswith("#"):
                index: int | None = int(pick[1:]) if len(value) > int(pick[1:]) else None
            else:
                ids = [item["id"] for item in value]
                wanted = self.world.gids[pick]
                index = ids.index(wanted) if wanted in ids else None
            if index is None:
                return path, True
            path.append(index)
            value = value[index]
        path.append(route_.leaf)
        return path, False
