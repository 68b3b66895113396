"""The package's layout: imports only run down the floors below, and never in a circle.

Rooms are tinybt's sub-packages and top-level modules. Each room sits on one floor of
FLOORS; a module may import from its own room or from a room on a lower floor, never
from a higher one, and no chain of imports comes back to where it started.
`python tests/test_layout.py` prints the rooms, the floors and every import edge.
"""

import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "tinybt"

FLOORS = [
    ("__init__", "errors", "backend", "atomic", "params", "lengths", "progress"),  # base: no tinybt imports
    ("data",),       # files -> Dataset -> sequences and views (and its Numba parsers)
    ("kernels",),    # the fast path's Numba kernels
    ("nn",),         # layers: forward/backward pairs
    ("losses",),
    ("models",),     # encoder, projector, the two objectives' models
    ("optim",),
    ("run",),        # config, run folder, checkpoint, lock
    ("train",),      # the epoch loop, diagnostics, user vectors
    ("probe",),      # linear probes, retrieval, evaluate, compare
    ("check",),      # gradient checks, goldens and their cases
    ("cli", "__main__"),
]
FLOOR = {room: i for i, rooms in enumerate(FLOORS) for room in rooms}


def modules():
    """{dotted module name: path} of every module in tinybt."""
    out = {}
    for p in ROOT.rglob("*.py"):
        parts = list(p.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


def imports():
    """{module: set of tinybt modules it imports} (at the top or inside a function)."""
    mods = modules()
    edges = defaultdict(set)
    for name, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # `from tinybt.data import parse` imports the module tinybt.data.parse
                targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in mods else node.module
                           for a in node.names]
            else:
                continue
            edges[name] |= {t for t in targets if t in mods and t != name}
    return mods, edges


def room(module):
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def cycles(edges, nodes):
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(max(1000, 10 * len(nodes)))

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def test_every_room_has_a_floor():
    rooms = {room(m) for m in modules()}
    assert rooms <= set(FLOOR), f"rooms with no floor in FLOORS: {sorted(rooms - set(FLOOR))}"


def test_no_import_circle():
    mods, edges = imports()
    assert cycles(edges, mods) == []


def test_imports_run_down_the_floors():
    _, edges = imports()
    up = [f"{a} -> {b}" for a, targets in edges.items() for b in targets
          if room(a) != room(b) and FLOOR[room(b)] > FLOOR[room(a)]]
    assert up == [], "imports from a lower floor to a higher one:\n" + "\n".join(sorted(up))


def test_rooms_on_one_floor_import_each_other_one_way():
    _, edges = imports()
    room_edges = defaultdict(set)
    for a, targets in edges.items():
        for b in targets:
            if room(a) != room(b):
                room_edges[room(a)].add(room(b))
    assert cycles(room_edges, set(FLOOR)) == []


if __name__ == "__main__":
    mods, edges = imports()
    for m in sorted(mods):
        print(f"{m} -> {', '.join(sorted(edges[m]))}")
    print("rooms:", len({room(m) for m in mods}), "floors:", len(FLOORS), "module circles:", cycles(edges, mods))
