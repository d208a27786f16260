#!/usr/bin/env python3
"""Generate coil's API reference from the comments in its public headers.

The header comments are the one source of truth.  This script reads
include/coil.h and include/coil/ctx.h and writes, from the same parsed
data:

  --man DIR        one man page (section 3) per public function and
                   function-like macro: DIR/coil_read.3, ...
  --markdown FILE  the Markdown index, docs/api.md
  --check-md FILE  fail (exit 1) when FILE differs from what --markdown
                   would write (the checked-in index is stale)
  --check-docs     fail (exit 1) when a public function's comment does not
                   say what it returns, which errno values it sets (or that
                   it cannot fail) and whether it may suspend

Python 3 standard library only.
"""
import argparse
import os
import re
import sys

HEADERS = ("include/coil/ctx.h", "include/coil.h")   # layer 0 first

FUNC_RE = re.compile(
    r"^(?P<ret>[A-Za-z_][\w\s\*]*?[\s\*])(?P<name>coil_[a-z0-9_]+)\s*"
    r"\((?P<args>.*)\)\s*;$", re.S)
MACRO_RE = re.compile(r"^#\s*define\s+(?P<name>(?:coil|COIL)_[A-Za-z0-9_]+)\(")


class Entry:
    """One comment and the public names declared under it."""

    def __init__(self, header, section, comment, decls, line):
        self.header = header      # "coil.h" or "coil/ctx.h"
        self.section = section    # the section title, e.g. "IO (layer 5)"
        self.comment = comment    # list of lines, comment markers removed
        self.decls = decls        # list of (kind, name, text)
        self.line = line

    @property
    def names(self):
        seen = []
        for _, name, _ in self.decls:
            if name not in seen:
                seen.append(name)
        return seen

    def functions(self):
        return [(n, t) for k, n, t in self.decls if k == "function"]


class Section:
    def __init__(self, title, intro):
        self.title = title
        self.intro = intro
        self.entries = []


def comment_text(raw):
    """The lines of a /* ... */ comment without its markers."""
    body = raw.strip()
    assert body.startswith("/*") and body.endswith("*/")
    body = body[2:-2]
    lines = body.split("\n")
    out = []
    for i, ln in enumerate(lines):
        s = ln.rstrip()
        if i == 0:
            s = s.strip()
        else:
            m = re.match(r"^\s*\* ?(.*)$", s)
            s = m.group(1) if m else s.strip()
        out.append(s.rstrip())
    while out and not out[0].strip():
        out.pop(0)
    while out and not out[-1].strip():
        out.pop()
    return out


def split_chunks(text):
    """Top-level chunks: runs of non-blank lines, comments kept whole."""
    chunks, cur, start = [], [], 0
    in_comment = False
    for no, line in enumerate(text.split("\n"), 1):
        if not cur:
            start = no
        if not in_comment and not line.strip():
            if cur:
                chunks.append((start, cur))
                cur = []
            continue
        cur.append(line)
        # track whether a comment is still open at the end of this line
        pos = 0
        while True:
            if in_comment:
                end = line.find("*/", pos)
                if end < 0:
                    break
                in_comment, pos = False, end + 2
            else:
                beg = line.find("/*", pos)
                if beg < 0:
                    break
                in_comment, pos = True, beg + 2
    if cur:
        chunks.append((start, cur))
    return chunks


def statements(lines):
    """Split a chunk (after its leading comment) into declarations."""
    out, cur, depth, in_macro = [], [], 0, False
    for line in lines:
        s = re.sub(r"/\*.*?\*/", "", line)
        s = re.sub(r"//.*", "", s)
        if in_macro or (not cur and s.lstrip().startswith("#")):
            cur.append(line)
            in_macro = line.rstrip().endswith("\\")
            if not in_macro:
                out.append("\n".join(cur))
                cur = []
            continue
        if not s.strip() and not cur:
            continue
        cur.append(s)
        depth += s.count("{") - s.count("}") + s.count("(") - s.count(")")
        if depth <= 0 and s.rstrip().endswith(";"):
            out.append("\n".join(cur))
            cur, depth = [], 0
    if cur:
        out.append("\n".join(cur))
    return out


def parse_header(path, header):
    text = open(path, encoding="utf-8").read()
    sections, section, carried = [], None, None
    for start, lines in split_chunks(text):
        joined = "\n".join(lines)
        if joined.lstrip().startswith("/* ====") or (
                header == "coil/ctx.h" and section is None
                and joined.lstrip().startswith("/*")):
            if header == "coil/ctx.h" and section is None:
                title = "Context switch (layer 0)"
                intro = comment_text(joined[:joined.index("*/") + 2])
                intro = [ln for ln in intro if not ln.startswith("=====")]
            else:
                body = comment_text(joined[:joined.index("*/") + 2])
                body = [ln for ln in body if not re.match(r"^=+$", ln.strip())]
                title, intro = body[0].strip(), body[1:]
                while intro and not intro[0].strip():
                    intro.pop(0)
            section, carried = Section(title, intro), None
            sections.append(section)
            continue
        if section is None:
            continue
        comment, rest = None, lines
        if lines[0].lstrip().startswith("/*"):
            n = 0
            while "*/" not in lines[n]:
                n += 1
            comment = comment_text("\n".join(lines[:n + 1]))
            rest = lines[n + 1:]
        decls = []
        for st in statements(rest):
            flat = " ".join(st.split())
            m = MACRO_RE.match(flat)
            if m:
                name = m.group("name")
                if not name.startswith(("coil__", "COIL__")):
                    sig = flat.split(")")[0] + ")"
                    sig = re.sub(r"^#\s*define\s+", "", sig)
                    decls.append(("macro", name, "#define " + sig))
                continue
            if flat.startswith(("typedef", "static", "#", "enum", "struct")):
                continue
            flat = re.sub(r"__attribute__\(\(.*?\)\)\s*", "", flat)
            m = FUNC_RE.match(flat)
            if m and not m.group("name").startswith("coil__"):
                decl = re.sub(r"\(\s+", "(", flat)
                decls.append(("function", m.group("name"), decl))
        # A comment over a type alone (coil_timeout's) also documents the
        # calls declared in the chunk right after it.
        if comment is None and decls and carried:
            comment = carried
        carried = comment if not decls else None
        if decls:
            section.entries.append(Entry(header, section.title,
                                         comment or [], decls, start))
    return sections


def parse(root):
    out = []
    for rel in HEADERS:
        header = rel[len("include/"):]
        out.extend(parse_header(os.path.join(root, rel), header))
    # A macro that stands in for a function declared earlier (ctx.h's
    # inline switches) is documented by the function's comment.
    seen = set()
    for sec in out:
        for e in sec.entries:
            e.decls = [d for d in e.decls
                       if not (d[0] == "macro" and d[1] in seen)]
            seen.update(d[1] for d in e.decls)
        sec.entries = [e for e in sec.entries if e.decls]
    return out


def return_type(decl):
    m = FUNC_RE.match(decl)
    return " ".join(m.group("ret").split()) if m else ""


# ------------------------------------------------------------ the check

# "Returns ...", or the failure value stated with its errno ("..., or -1
# with errno EINVAL", "NULL with errno ENOMEM").
RETURNS = re.compile(r"\breturns?\b|\bcannot fail\b|"
                     r"(\bNULL|-1),? (with|and) errno\b", re.I)
ERRNO = re.compile(r"\berrno\b|\bcannot fail\b|\bsets no errno\b", re.I)
SUSPEND = re.compile(r"\b(may suspend|does not suspend|do not suspend|"
                     r"never suspends|suspends)\b", re.I)


def check_docs(sections):
    problems = []
    for sec in sections:
        for e in sec.entries:
            text = " ".join(e.comment)
            for name, decl in e.functions():
                missing = []
                if not e.comment:
                    missing.append("a comment")
                else:
                    if return_type(decl) != "void" and not RETURNS.search(text):
                        missing.append("what it returns")
                    if not ERRNO.search(text):
                        missing.append("which errno values it sets "
                                       "(or that it cannot fail)")
                    if not SUSPEND.search(text):
                        missing.append('whether it suspends ("May suspend", '
                                       '"Does not suspend", "Suspends")')
                if missing:
                    problems.append("include/%s:%d: %s: the comment does "
                                    "not say %s" % (e.header, e.line, name,
                                                    "; ".join(missing)))
    return problems


# ------------------------------------------------------------ man pages

def man_escape(s):
    s = s.replace("\\", "\\e").replace("-", "\\-")
    if s.startswith((".", "'")):
        s = "\\&" + s
    # groff reads ASCII; name other characters (the header's dashes).
    return "".join(c if ord(c) < 128 else "\\[u%04X]" % ord(c) for c in s)


def summary(comment):
    """The comment's first sentence, for NAME and the index."""
    text = " ".join(ln.strip() for ln in comment).strip()
    if not text:
        return ""
    m = re.match(r"(.+?[.:;])(\s|$)", text)
    s = m.group(1) if m else text
    s = s.rstrip(".:;")
    if len(s) > 110:
        s = s[:107].rsplit(" ", 1)[0] + "..."
    return s


def man_page(e, name, sec, version):
    out = []
    out.append('.TH %s 3 "" "coil %s" "coil manual"' % (name.upper()
                                                         .replace("_", "\\_"),
                                                         version))
    out.append(".SH NAME")
    out.append("%s \\- %s" % (", ".join(man_escape(n) for n in e.names),
                              man_escape(summary(e.comment or sec.intro)
                                         or sec.title)))
    out.append(".SH LIBRARY")
    out.append("coil (\\fIlibcoil\\fP, \\fI\\-lcoil\\fP; "
               "\\fIpkg\\-config \\-\\-libs coil\\fP)")
    out.append(".SH SYNOPSIS")
    out.append(".nf")
    out.append(".B #include <%s>" % e.header)
    out.append(".PP")
    for _, _, text in e.decls:
        out.append(".B " + man_escape(text))
    out.append(".fi")
    out.append(".SH DESCRIPTION")
    out.append(".nf")
    for ln in e.comment or ["(No comment of its own: see NOTES.)"]:
        out.append(man_escape(ln) if ln.strip() else "")
    out.append(".fi")
    if sec.intro:
        out.append(".SH NOTES")
        out.append("From the section \\(lq%s\\(rq of <%s>:" %
                   (man_escape(sec.title), e.header))
        out.append(".PP")
        out.append(".nf")
        for ln in sec.intro:
            out.append(man_escape(ln) if ln.strip() else "")
        out.append(".fi")
    others = [n for x in sec.entries for n in x.names if n not in e.names]
    if others:
        out.append(".SH SEE ALSO")
        out.append(",\n".join(".BR %s (3)" % man_escape(n)
                              for n in others[:12]))
    return "\n".join(out) + "\n"


def write_man(sections, outdir, version):
    os.makedirs(outdir, exist_ok=True)
    written = set()
    for sec in sections:
        for e in sec.entries:
            for name in e.names:
                if name in written:
                    continue
                written.add(name)
                page = man_page(e, name, sec, version)
                path = os.path.join(outdir, name + ".3")
                old = None
                if os.path.exists(path):
                    old = open(path, encoding="utf-8").read()
                if old != page:
                    with open(path, "w", encoding="utf-8") as f:
                        f.write(page)
    return written


# ------------------------------------------------------------ docs/api.md

def anchor(title):
    a = re.sub(r"[^\w\- ]", "", title.lower()).strip().replace(" ", "-")
    return a


def markdown(sections):
    out = ["# coil API reference", "",
           "Generated by `tools/gen-man.py` from the comments in "
           "`include/coil.h` and `include/coil/ctx.h`; do not edit by hand "
           "(`tests` fail when this file is stale: regenerate it with "
           "`python3 tools/gen-man.py --markdown docs/api.md`).  The same "
           "text is installed as man pages: `man coil_read`.", ""]
    count = sum(len(e.names) for s in sections for e in s.entries)
    out.append("%d functions and macros, in the order of the headers' "
               "sections:" % count)
    out.append("")
    for sec in sections:
        names = [n for e in sec.entries for n in e.names]
        out.append("- [%s](#%s): %s" % (sec.title, anchor(sec.title),
                                        ", ".join("`%s`" % n for n in names)))
    for sec in sections:
        out += ["", "## " + sec.title, ""]
        if sec.intro:
            out.append("```text")
            out += sec.intro
            out.append("```")
            out.append("")
        out.append("| name | summary |")
        out.append("|---|---|")
        for e in sec.entries:
            s = summary(e.comment).replace("|", "\\|")
            out.append("| %s | %s |" % (", ".join("[`%s`](#%s)" % (
                n, anchor(e.names[0])) for n in e.names), s))
        for e in sec.entries:
            out += ["", "### " + e.names[0], ""]
            out.append("```c")
            out += [text for _, _, text in e.decls]
            out.append("```")
            if e.comment:
                out += ["", "```text"] + e.comment + ["```"]
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), ".."))
    ap.add_argument("--man", metavar="DIR")
    ap.add_argument("--version", default="")
    ap.add_argument("--markdown", metavar="FILE")
    ap.add_argument("--check-md", metavar="FILE")
    ap.add_argument("--check-docs", action="store_true")
    ap.add_argument("--list", action="store_true")
    a = ap.parse_args()
    sections = parse(a.root)
    status = 0
    if a.list:
        for sec in sections:
            for e in sec.entries:
                print("%s\t%s" % (sec.title, " ".join(e.names)))
    if a.man:
        n = len(write_man(sections, a.man, a.version))
        print("gen-man: %d man pages in %s" % (n, a.man))
    if a.markdown:
        with open(a.markdown, "w", encoding="utf-8") as f:
            f.write(markdown(sections))
    if a.check_md:
        have = open(a.check_md, encoding="utf-8").read() \
            if os.path.exists(a.check_md) else ""
        if have != markdown(sections):
            print("gen-man: %s is stale: run python3 tools/gen-man.py "
                  "--markdown %s" % (a.check_md, a.check_md))
            status = 1
        else:
            print("gen-man: %s is up to date" % a.check_md)
    if a.check_docs:
        problems = check_docs(sections)
        for p in problems:
            print(p)
        nfun = sum(len(e.functions()) for s in sections for e in s.entries)
        print("doc coverage: %d of %d public functions fully documented" %
              (nfun - len(problems), nfun))
        if problems:
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
