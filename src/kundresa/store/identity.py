"""Identity stitching: which ids are one person, and what that person is called.

Links come from rows that carry an anonymous id (a device or cookie id) beside a known (user)
id, and from identify calls; the warehouse keeps one row per linked pair in
``identity_links`` with the time the pair was first seen. The rules (docs/identity.md, the
same as PostHog's, Amplitude's and Mixpanel's identity merge):

1. An anonymous id belongs to the **first** known id it was linked to (earliest
   ``first_seen``, ties by the known id): later links of the same anonymous id to other known
   ids are *conflicts* (a shared device without a reset) and are reported, not followed.
   So every id follows at most one kept link, and two known ids are never merged.
2. Ids joined by kept links are one person: the connected components of the kept links,
   found with :func:`scipy.sparse.csgraph.connected_components`.
3. A person is named by the one id of the component that follows no kept link — the known id
   (an id used as known in one link and as anonymous in another, as in chained alias calls,
   follows its own link). A component where every id follows a link (a cycle of ids used
   both ways) is named by its earliest id: first seen in events or links, ties by the id.

The result is materialised as ``id_map`` (id → customer_id) holding only ids named by another
id: it is small, engine-neutral (any engine joins it) and empty when there are no links, so
projects without links read their events unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

if TYPE_CHECKING:
    import duckdb

__all__ = ["component_names", "materialise_id_map"]


def component_names(follows: np.ndarray, n: int, first_seen: np.ndarray) -> np.ndarray:
    """The node that names each node's person.

    Parameters
    ----------
    follows
        Shape ``(n,)`` int64: the node each node's kept link points to, ``-1`` for none.
    n
        Number of nodes.
    first_seen
        Shape ``(n,)``: a sort key per node (smaller is earlier), used only to name
        components without a root (cycles); ties go to the smaller node number.

    Returns
    -------
    numpy.ndarray
        Shape ``(n,)`` int64: the naming node of each node's component.

    Examples
    --------
    >>> import numpy as np
    >>> # 0 → 2, 1 → 2, 3 alone, 4 → 5 → 4 (a cycle; 5 seen first)
    >>> component_names(np.array([2, 2, -1, -1, 5, 4]), 6, np.array([0, 0, 0, 0, 9, 1])).tolist()
    [2, 2, 2, 3, 5, 5]
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    src = np.flatnonzero(follows >= 0)
    dst = follows[src]
    graph = coo_matrix((np.ones(len(src), dtype=np.int8), (src, dst)), shape=(n, n))
    count, labels = connected_components(graph, directed=False)
    name = np.full(count, -1, dtype=np.int64)
    roots = np.flatnonzero(follows < 0)
    # Each component has at most one root: every node follows at most one link.
    name[labels[roots]] = roots
    cyclic = np.flatnonzero(name[labels] < 0)
    if len(cyclic):
        order = cyclic[np.lexsort((cyclic, first_seen[cyclic]))]
        comps = labels[order]
        _, first = np.unique(comps, return_index=True)
        name[comps[first]] = order[first]
    return name[labels]


def materialise_id_map(con: duckdb.DuckDBPyConnection, touched: str | None = None) -> int:
    """Recompute ``id_map`` from ``identity_links`` (inside the caller's transaction).

    ``touched`` names a table (or view) with one column ``id``: the ids of the links an
    ingest added or moved back in time. Then only the persons those ids belonged to are
    recomputed: new links only join persons, and a kept link that changes (a backfill) can
    split a person only into parts of itself, so every person that can change is made of the
    ids of the old persons of the touched ids, and the kept links among those ids are
    exactly theirs. The result equals a whole recompute (tested against it); the work grows
    with the touched persons instead of with every link the warehouse holds.

    Returns the number of ids mapped to another id (among the recomputed ones).
    """
    scope = ""
    if touched is not None:
        # The old persons of the touched ids, each with every id it names.
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE _touched AS
            WITH seed AS (SELECT DISTINCT id FROM {touched} WHERE id IS NOT NULL),
            persons AS (
                SELECT DISTINCT coalesce(m.customer_id, s.id) AS person
                FROM seed s LEFT JOIN id_map m ON m.id = s.id
            )
            SELECT id FROM seed
            UNION SELECT person FROM persons
            UNION SELECT m.id FROM id_map m SEMI JOIN persons p ON m.customer_id = p.person
            """
        )
        scope = "AND anonymous_id IN (SELECT id FROM _touched)"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _kept AS
        SELECT anonymous_id, known_id FROM identity_links
        WHERE anonymous_id <> known_id {scope}
        QUALIFY row_number() OVER (
            PARTITION BY anonymous_id ORDER BY first_seen, known_id) = 1
        """
    )
    # Nodes are numbered in id order, so ties in naming a cycle go to the smaller id.
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _nodes AS
        SELECT id, CAST(row_number() OVER (ORDER BY id) - 1 AS BIGINT) AS n
        FROM (SELECT anonymous_id AS id FROM _kept UNION SELECT known_id FROM _kept)
        """
    )
    row = con.execute("SELECT count(*) FROM _nodes").fetchone()
    n = int(row[0]) if row else 0
    if touched is None:
        con.execute("DELETE FROM id_map")
    else:
        con.execute("DELETE FROM id_map WHERE id IN (SELECT id FROM _touched)")
        con.execute("DROP TABLE _touched")
    if n == 0:
        con.execute("DROP TABLE _kept")
        con.execute("DROP TABLE _nodes")
        return 0
    edges = con.execute(
        "SELECT a.n AS src, k.n AS dst FROM _kept "
        "JOIN _nodes a ON a.id = _kept.anonymous_id JOIN _nodes k ON k.id = _kept.known_id"
    ).fetchnumpy()
    follows = np.full(n, -1, dtype=np.int64)
    follows[np.asarray(edges["src"], dtype=np.int64)] = np.asarray(edges["dst"], dtype=np.int64)
    names = component_names(follows, n, np.zeros(n, dtype=np.int64))
    cyclic = _cyclic_nodes(follows, names)
    if len(cyclic):
        # Cycles are rare; only their ids need their first-seen times to be named.
        first_seen = _first_seen(con, cyclic, n)
        names = component_names(follows, n, first_seen)
    moved = np.flatnonzero(names != np.arange(n))
    mapping = pa.table(
        {"n": pa.array(moved, pa.int64()), "person": pa.array(names[moved], pa.int64())}
    )
    con.register("_mapping", mapping)
    try:
        con.execute(
            "INSERT INTO id_map SELECT a.id, p.id FROM _mapping m "
            "JOIN _nodes a ON a.n = m.n JOIN _nodes p ON p.n = m.person"
        )
    finally:
        con.unregister("_mapping")
    con.execute("DROP TABLE _kept")
    con.execute("DROP TABLE _nodes")
    return len(moved)


def _cyclic_nodes(follows: np.ndarray, names: np.ndarray) -> np.ndarray:
    """Nodes of components without a root (their name follows a link)."""
    return np.flatnonzero(follows[names] >= 0)


def _first_seen(con: duckdb.DuckDBPyConnection, nodes: np.ndarray, n: int) -> np.ndarray:
    """Epoch microseconds when each of ``nodes`` was first seen (events or links); others 0."""
    con.register("_cyc", pa.table({"n": pa.array(nodes, pa.int64())}))
    try:
        rows = con.execute(
            """
            WITH ids AS (SELECT _nodes.id, _nodes.n FROM _cyc JOIN _nodes USING (n)),
            seen AS (
                SELECT customer_id AS id, "timestamp" AS t FROM events
                WHERE customer_id IN (SELECT id FROM ids)
                UNION ALL SELECT anonymous_id, "timestamp" FROM events
                WHERE anonymous_id IN (SELECT id FROM ids)
                UNION ALL SELECT anonymous_id, first_seen FROM identity_links
                WHERE anonymous_id IN (SELECT id FROM ids)
                UNION ALL SELECT known_id, first_seen FROM identity_links
                WHERE known_id IN (SELECT id FROM ids)
            )
            SELECT ids.n, epoch_us(min(seen.t)) FROM ids JOIN seen USING (id) GROUP BY ids.n
            """
        ).fetchall()
    finally:
        con.unregister("_cyc")
    out = np.zeros(n, dtype=np.int64)
    for node, t in rows:
        out[node] = t
    return out
