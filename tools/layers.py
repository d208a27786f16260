#!/usr/bin/env python3
"""tools/layers.py — check that no layer of coil calls a layer above it.

Reads the symbols of the BUILT objects (nm on the members of libcoil.a),
so every call, inline helper, address taken and variable shared counts,
whatever the headers say.  Each member is mapped back to its source file
under src/ or asm/, and so to its layer (docs/architecture.md): the folder
decides, with a few files that the table below places more finely.

Prints every cross-object reference, grouped by the calling layer, and
exits 1 if one goes upward (or if a member cannot be placed: an object
this script does not know of must not slip past it), else 0.

usage: tools/layers.py [--nm NM] [--quiet] [path/to/libcoil.a]
"""
import argparse
import collections
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Layer of each folder, bottom up (docs/architecture.md).  Folders of
# one number are peers: they may not call each other either.
FOLDER_LAYER = {
    "asm": 0,
    "src/core": 1,
    "src/loop": 3,
    "src/task": 4,
    "src/sync": 5,
    "src/thread": 5,
    "src/io": 6,
    "src/run": 7,
}
# Files that sit above the rest of their folder: a coroutine is a stack
# plus a context, so the stack allocator must not know coroutines.
FILE_LAYER = {
    "src/core/coro.c": 2,
}
# Inside a folder, files may call each other, except where an order is
# given here (bottom first): a file may not call one listed after it.
# Files not listed sit above the listed ones.  Futures come before the
# tasks that embed them; fds before the sockets and processes built on them.
FOLDER_ORDER = {
    "src/core": ["libc.c", "clock.c", "stack_guard.c", "stack.c", "coro.c"],
    "src/task": ["future.c"],
    "src/io": ["nowait.c", "io.c"],
}
DEFINED = set("TDBRVWCG")   # kinds of global definitions nm prints


def source_of(member, index):
    """The source file (relative to ROOT) that archive member was built
    from: CMake names objects after their source, "loop.c.o"."""
    base = member[:-2] if member.endswith(".o") else member
    found = index.get(base, [])
    if len(found) != 1:
        sys.exit(f"layers: cannot place {member}: sources {found or 'none'}")
    return found[0]


def source_index():
    index = collections.defaultdict(list)
    for top in ("src", "asm"):
        for dirpath, _, files in os.walk(os.path.join(ROOT, top)):
            for f in files:
                if f.endswith((".c", ".S")):
                    rel = os.path.relpath(os.path.join(dirpath, f), ROOT)
                    index[f].append(rel)
    return index


def layer_of(src):
    if src in FILE_LAYER:
        return FILE_LAYER[src]
    folder = os.path.dirname(src)
    if folder not in FOLDER_LAYER:
        sys.exit(f"layers: {src} is in no known layer (tools/layers.py)")
    return FOLDER_LAYER[folder]


def upward(a, b):
    """Whether source a referring to source b goes up the floor plan."""
    la, lb = layer_of(a), layer_of(b)
    if la != lb:
        return lb > la
    folder = os.path.dirname(a)
    if folder != os.path.dirname(b):
        return True                      # peers: neither may call the other
    order = FOLDER_ORDER.get(folder, [])
    rank = {f: i for i, f in enumerate(order)}
    return (rank.get(os.path.basename(b), len(order)) >
            rank.get(os.path.basename(a), len(order)))


def read_symbols(nm, archive):
    """{member: (defined symbols, undefined symbols)}"""
    out = subprocess.run([nm, "-A", archive], capture_output=True,
                         text=True, check=True).stdout
    syms = collections.defaultdict(lambda: (set(), set()))
    for line in out.splitlines():
        # "libcoil.a:loop.c.o:0000000000000000 T coil_loop_new"
        # "libcoil.a:loop.c.o:                 U coil_clock"
        head, _, rest = line.rpartition(":")
        member = head.rpartition(":")[2]
        fields = rest.split()
        if len(fields) == 2 and fields[0] == "U":
            syms[member][1].add(fields[1])
        elif len(fields) == 3 and fields[1] in DEFINED:
            syms[member][0].add(fields[2])
    return syms


def cross_references(syms):
    """{(caller, callee): sorted symbols} between different members."""
    owner = {}
    for member, (defs, _) in syms.items():
        for s in defs:
            owner[s] = member
    refs = collections.defaultdict(set)
    for member, (_, undefs) in syms.items():
        for s in undefs:
            if s in owner and owner[s] != member:
                refs[(member, owner[s])].add(s)
    return {k: sorted(v) for k, v in refs.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("archive", nargs="?",
                    default=os.path.join(ROOT, "build/release/libcoil.a"))
    ap.add_argument("--nm", default=os.environ.get("NM", "nm"))
    ap.add_argument("--quiet", action="store_true",
                    help="print only the upward references")
    args = ap.parse_args()

    index = source_index()
    syms = read_symbols(args.nm, args.archive)
    place = {m: source_of(m, index) for m in syms}
    refs = cross_references(syms)

    ups = 0
    by_layer = collections.defaultdict(list)
    for (caller, callee), names in refs.items():
        a, b = place[caller], place[callee]
        la, lb = layer_of(a), layer_of(b)
        bad = upward(a, b)
        ups += bad
        by_layer[la].append((bad, a, b, lb, names))

    for layer in sorted(by_layer):
        rows = sorted(by_layer[layer], key=lambda r: (r[1], r[2]))
        if args.quiet:
            rows = [r for r in rows if r[0]]
        if not rows:
            continue
        print(f"layer {layer}:")
        for bad, a, b, lb, names in rows:
            mark = "UPWARD" if bad else "ok"
            print(f"  {mark:6} {a} -> {b} (layer {lb}): {' '.join(names)}")
    print(f"layers: {len(place)} objects, {len(refs)} cross-object "
          f"references, {ups} upward")
    return 1 if ups else 0


if __name__ == "__main__":
    sys.exit(main())
