"""Identity resolution: follow identify / alias links to the one entity each id belongs to."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa


@dataclass(frozen=True)
class IdentityConflict:
    """An id linked to two different entities; the earliest link wins and this records the other."""

    from_id: str
    kept_to_id: str
    rejected_to_id: str
    reason: str


def resolve_identities(links: pa.Table) -> tuple[dict[str, str], list[IdentityConflict]]:
    """Map every linked id to its root entity.

    ``links`` has columns ``from_id``, ``to_id`` and ``ts``. The earliest link of an id wins; a later
    link of the same id to another entity is a conflict, reported and not applied. Chains resolve
    transitively (a -> b -> c gives a -> c and b -> c); a link that would close a cycle is a conflict.
    """
    order = sorted(
        zip(links.column("ts").to_pylist(), links.column("from_id").to_pylist(),
            links.column("to_id").to_pylist(), strict=True),
        key=lambda row: (row[0], row[1], row[2]),
    )
    parent: dict[str, str] = {}
    conflicts: list[IdentityConflict] = []
    for _, from_id, to_id in order:
        if from_id == to_id:
            continue
        if from_id in parent:
            kept = _root(parent, from_id)
            if kept != _root(parent, to_id):
                conflicts.append(IdentityConflict(from_id, kept, to_id, "already linked"))
            continue
        if _root(parent, to_id) == from_id:
            conflicts.append(IdentityConflict(from_id, from_id, to_id, "would form a cycle"))
            continue
        parent[from_id] = to_id
    return {node: _root(parent, node) for node in parent}, conflicts


def _root(parent: dict[str, str], node: str) -> str:
    path = []
    while node in parent:
        path.append(node)
        node = parent[node]
    for visited in path:  # path compression keeps long alias chains cheap
        parent[visited] = node
    return node
