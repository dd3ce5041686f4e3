#!/usr/bin/env python3
"""test/doc_examples.py - the examples of README.md and doc/*.md, for
test/t/175_doc_examples.sh (the convention is in doc/development.md).

    doc_examples.py ROOT script SIM_URL   a psql script running every example
                                          in document order (stdout)
    doc_examples.py ROOT counts           "file runs fails skipped" per page
    doc_examples.py ROOT names            the settings, functions, relations
                                          and columns the pages name
    doc_examples.py ROOT links            the relative links that lead nowhere

The pages are README.md, then the doc/ pages in the order README's
"Where to go next" links them; every doc/*.md but doc/_draft-*.md must be
linked there.  Fenced blocks:

  ```sql              run; must succeed
  ```sql fails XXXXX  run; must fail with SQLSTATE XXXXX
  ```sql norun        shown, not run (a statement with a placeholder)
  any other info      not run (output, shell, configuration)

and a hidden test-only block, run where it stands:

  <!-- doctest
  psql input
  -->

In the blocks that run, http://127.0.0.1:8080 (the simulator's address in
the pages) becomes SIM_URL.
"""
import os
import re
import sys

SIM_IN_DOCS = "http://127.0.0.1:8080"


def pages(root):
    """README.md and the doc/ pages in the order README links them."""
    readme = open(os.path.join(root, "README.md"), encoding="utf-8").read()
    m = re.search(r"^## Where to go next\n(.*?)(?=^## |\Z)", readme, re.M | re.S)
    if not m:
        sys.exit("README.md has no section \"## Where to go next\"")
    order = []
    for link in re.findall(r"\]\((doc/[A-Za-z0-9_.-]+\.md)\)", m.group(1)):
        if link not in order:
            order.append(link)
    present = sorted("doc/" + f for f in os.listdir(os.path.join(root, "doc"))
                     if f.endswith(".md") and not f.startswith("_draft-"))
    missing = [p for p in present if p not in order]
    if missing:
        sys.exit("doc pages not linked from README's \"Where to go next\": " + ", ".join(missing))
    gone = [p for p in order if p not in present]
    if gone:
        sys.exit("README's \"Where to go next\" links pages that do not exist: " + ", ".join(gone))
    return ["README.md"] + order


def blocks(root, page):
    """(kind, line, text, sqlstate) for each block of a page; kind is
    run, fails, norun, hidden or other."""
    out = []
    lines = open(os.path.join(root, page), encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = re.match(r"^(\s*)(```+)(.*)$", line)
        if line.strip() == "<!-- doctest":
            start = i + 1
            i += 1
            body = []
            while i < len(lines) and lines[i].strip() != "-->":
                body.append(lines[i])
                i += 1
            if i == len(lines):
                sys.exit("%s:%d: <!-- doctest without -->" % (page, start))
            out.append(("hidden", start, "\n".join(body), None))
        elif fence:
            indent, ticks, info = fence.group(1), fence.group(2), fence.group(3).strip()
            start = i + 1
            i += 1
            body = []
            while i < len(lines) and not re.match(r"^\s*" + ticks + r"\s*$", lines[i]):
                body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i].lstrip())
                i += 1
            if i == len(lines):
                sys.exit("%s:%d: unclosed code block" % (page, start))
            words = info.split()
            text = "\n".join(body)
            if words[:1] != ["sql"]:
                out.append(("other", start, text, None))
            elif len(words) == 1:
                out.append(("run", start, text, None))
            elif words[1] == "norun" and len(words) == 2:
                out.append(("norun", start, text, None))
            elif words[1] == "fails" and len(words) == 3 and re.fullmatch(r"[0-9A-Z]{5}", words[2]):
                out.append(("fails", start, text, words[2]))
            else:
                sys.exit("%s:%d: unknown block info \"%s\" (see doc/development.md)" % (page, start, info))
        i += 1
    return out


def script(root, sim_url):
    """The psql script: every block that runs, in document order."""
    out = ["\\set ON_ERROR_STOP 1", "\\set sim '%s'" % sim_url]
    for page in pages(root):
        for kind, line, text, state in blocks(root, page):
            if kind not in ("run", "fails", "hidden"):
                continue
            text = text.replace(SIM_IN_DOCS, sim_url).rstrip()
            code = re.sub(r"--[^\n]*", "", text).rstrip()
            if kind != "hidden" and not code.endswith(";"):
                sys.exit("%s:%d: an example must end with ';'" % (page, line))
            out.append("\\echo '@@ %s:%d'" % (page, line))
            if kind == "fails":
                out += ["\\set LAST_ERROR_SQLSTATE 00000", "\\set ON_ERROR_STOP 0", text,
                        "\\set ON_ERROR_STOP 1",
                        "SELECT :'LAST_ERROR_SQLSTATE' = '%s' AS doctest_ok \\gset" % state,
                        "\\if :doctest_ok", "\\else",
                        "\\echo '@@ FAILED: %s:%d should fail with SQLSTATE %s, got' :LAST_ERROR_SQLSTATE"
                        % (page, line, state),
                        "SELECT 1/0;", "\\endif"]
            else:
                out.append(text)
    out.append("\\echo '@@ end'")
    return "\n".join(out) + "\n"


def counts(root):
    """Per page: blocks run (run + fails + hidden), of which fail, and skipped sql."""
    res = []
    for page in pages(root):
        b = blocks(root, page)
        res.append("%s %d %d %d" % (page, sum(k in ("run", "fails", "hidden") for k, *_ in b),
                                    sum(k == "fails" for k, *_ in b), sum(k == "norun" for k, *_ in b)))
    return "\n".join(res) + "\n"


FILE_NAMES = {"h", "c", "control", "key", "so"}


def names(root):
    """Lines "kind name" for what the pages name: setting esi_fdw.x,
    function esi.f, relation esi.r, column esi.r.c."""
    found = set()
    for page in pages(root):
        if page == "doc/tables.md":     # generated; scopes such as esi.activity.char:read
            continue
        text = open(os.path.join(root, page), encoding="utf-8").read()
        for m in re.finditer(r"(?<![\w/.-])esi_fdw\.([a-z_]+)\b(?![./-]\w)", text):
            if m.group(1) not in FILE_NAMES:
                found.add("setting esi_fdw." + m.group(1))
        for m in re.finditer(r"(?<![\w/.-])esi\.([a-z_][a-z0-9_]*)(\.[a-z_][a-z0-9_]*)?(\s*\()?", text):
            name, col, call = m.group(1), m.group(2), m.group(3)
            if name == "evetech":
                continue
            if call and not col:
                found.add("function esi." + name)
            elif col:
                found.add("column esi.%s.%s" % (name, col[1:]))
            else:
                found.add("object esi." + name)
    return "\n".join(sorted(found)) + "\n"


def anchor(heading):
    """GitHub's anchor of a heading."""
    h = heading.strip().lower()
    h = re.sub(r"[^\w\- ]", "", h)
    return h.replace(" ", "-")


def links(root):
    """Lines "page: link" for each relative link of the pages whose file,
    or heading, does not exist."""
    bad = []
    for page in pages(root):
        text = open(os.path.join(root, page), encoding="utf-8").read()
        text = re.sub(r"```.*?```", "", text, flags=re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, frag = target.partition("#")
            file = os.path.normpath(os.path.join(os.path.dirname(os.path.join(root, page)), path)) \
                if path else os.path.join(root, page)
            if not os.path.exists(file):
                bad.append("%s: %s" % (page, target))
                continue
            if frag and file.endswith(".md"):
                heads = re.findall(r"^#+ (.*)$", open(file, encoding="utf-8").read(), re.M)
                if frag not in [anchor(h) for h in heads]:
                    bad.append("%s: %s" % (page, target))
    return "".join(b + "\n" for b in bad)


def main():
    root, what = sys.argv[1], sys.argv[2]
    if what == "script":
        sys.stdout.write(script(root, sys.argv[3]))
    elif what == "counts":
        sys.stdout.write(counts(root))
    elif what == "names":
        sys.stdout.write(names(root))
    elif what == "links":
        sys.stdout.write(links(root))
    else:
        sys.exit("usage: doc_examples.py ROOT script SIM_URL | counts | names | links")


if __name__ == "__main__":
    main()
