#!/usr/bin/env python3
"""make check-layers: the shim's modules form layers, read from the build.

For every object in shim/, `nm` says which symbols it defines and which it
uses; a use of another object's symbol is an edge "a calls b".  The check
fails on any cycle between objects, and on any edge from a lower layer to a
higher one (LAYERS below: a module may use its own layer and those beneath).
Usage: layers.py BUILD_DIR/shim SOURCE_DIR (objects without a source there, left
from an older tree, are ignored)
"""
import os
import subprocess
import sys

# Bottom first.  Every object in shim/ must be listed.
LAYERS = [
    ("seam", "os log config debug names next stats stop"),
    ("store", "start block budget store cache arena pieces resv ticker"),
    ("policy", "big region_map region_advise region_remap region_fork region_back forkback huge advise frag defrag heap"),
    ("entry", "alloc malloc mmap init xid wait"),
]


def symbols(obj):
    out = subprocess.run(["nm", "--defined-only", "-g", obj], capture_output=True,
                         text=True, check=True).stdout
    defs = {l.split()[-1] for l in out.splitlines() if l.strip()}
    out = subprocess.run(["nm", "-u", obj], capture_output=True, text=True, check=True).stdout
    uses = {l.split()[-1] for l in out.splitlines() if l.strip()}
    return defs, uses


def main():
    d, src = sys.argv[1], sys.argv[2]
    objs = sorted(f[:-2] for f in os.listdir(d)
                  if f.endswith(".o") and os.path.exists(os.path.join(src, f[:-2] + ".c")))
    layer = {}
    for i, (_, names) in enumerate(LAYERS):
        for n in names.split():
            layer[n] = i
    bad = [o for o in objs if o not in layer]
    errors = []
    if bad:
        errors.append("not in any layer (tools/dev/layers.py): " + " ".join(bad))
    defs, uses = {}, {}
    for o in objs:
        defs[o], uses[o] = symbols(os.path.join(d, o + ".o"))
    owner = {}
    for o in objs:
        for s in defs[o]:
            owner[s] = o
    edges = {o: set() for o in objs}
    why = {}
    for o in objs:
        for s in uses[o]:
            t = owner.get(s)
            if t and t != o:
                edges[o].add(t)
                why.setdefault((o, t), s)
    for o in objs:
        for t in sorted(edges[o]):
            if o in layer and t in layer and layer[t] > layer[o]:
                errors.append("upward: %s (%s) uses %s (%s): %s" % (
                    o, LAYERS[layer[o]][0], t, LAYERS[layer[t]][0], why[(o, t)]))
    # Tarjan's strongly connected components: each with more than one
    # object is a cycle.
    index, low, stack, on, sccs, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
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
            sccs.append(comp)

    sys.setrecursionlimit(10000)
    for v in objs:
        if v not in index:
            visit(v)
    for comp in sccs:
        if len(comp) > 1:
            comp = sorted(comp)
            detail = ", ".join("%s->%s (%s)" % (a, b, why[(a, b)])
                               for a in comp for b in sorted(edges[a]) if b in comp)
            errors.append("cycle: %s: %s" % (" ".join(comp), detail))
    for e in errors:
        print("check-layers: " + e)
    nedges = sum(len(v) for v in edges.values())
    print("check-layers: %d objects, %d edges, %d problems" % (len(objs), nedges, len(errors)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
