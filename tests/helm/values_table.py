#!/usr/bin/env python3
"""The chart's values table, generated from values.yaml (its `# --` comments and defaults).

    values_table.py                 prints the Markdown table
    values_table.py --check FILE    exit 1 unless FILE holds the current table between
                                    <!-- values:begin --> and <!-- values:end -->
    values_table.py --write FILE    replaces the table there

A value is a row when it is no mapping, or a mapping whose keys carry no `# --` comment of
their own (resources, config, ...). Every row needs a description: an undocumented value
fails the generation, so values.yaml stays documented.
"""
import json
import os
import re
import sys

import yaml

VALUES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "manifests", "chart",
                      "tenantguard", "values.yaml")
BEGIN, END = "<!-- values:begin -->", "<!-- values:end -->"
KEY = re.compile(r"^( *)([A-Za-z][A-Za-z0-9_.-]*):(.*)$")


def lookup(tree, path):
    for p in path:
        tree = tree[p]
    return tree


def default_text(v):
    if isinstance(v, dict) and len(json.dumps(v)) > 70:
        return "see values.yaml"
    if v == "" or v is None:
        return '`""`' if v == "" else "`null`"
    text = json.dumps(v) if not isinstance(v, str) else v
    return "`%s`" % text.replace("|", "\\|")


def rows():
    lines = open(VALUES).read().split("\n")
    tree = yaml.safe_load("\n".join(lines))
    out, stack, desc, skip = [], [], [], None
    for i, line in enumerate(lines):
        indent = len(line) - len(line.lstrip(" "))
        if skip is not None:
            if line.strip() == "" or indent > skip:
                continue
            skip = None
        s = line.strip()
        if s.startswith("# --"):
            desc = [s[4:].strip()]
            continue
        if s.startswith("#") and desc:
            desc.append(s[1:].strip())
            continue
        m = KEY.match(line)
        if not m:
            desc = [] if s == "" else desc
            continue
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = [k for _, k in stack] + [m.group(2)]
        value = lookup(tree, path)
        children_documented = False
        if isinstance(value, dict):
            for nxt in lines[i + 1:]:
                ni = len(nxt) - len(nxt.lstrip(" "))
                if nxt.strip() and ni <= indent:
                    break
                if nxt.strip().startswith("# --"):
                    children_documented = True
                    break
        if isinstance(value, dict) and children_documented:
            stack.append((indent, m.group(2)))
            desc = []
            continue
        if not desc:
            sys.exit("values_table.py: %s has no `# --` description in values.yaml" % ".".join(path))
        out.append((".".join(path), default_text(value), " ".join(desc)))
        desc, skip = [], indent
    return out


def table():
    return "\n".join(["| value | default | what it does |", "|---|---|---|"] +
                     ["| `%s` | %s | %s |" % r for r in rows()]) + "\n"


def main():
    t = table()
    if len(sys.argv) == 1:
        sys.stdout.write(t)
        return
    mode, path = sys.argv[1], sys.argv[2]
    text = open(path).read()
    if BEGIN not in text or END not in text:
        sys.exit("values_table.py: %s has no %s ... %s block" % (path, BEGIN, END))
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    new = head + BEGIN + "\n" + t + END + tail
    if mode == "--check":
        sys.exit(0 if new == text else "values_table.py: the values table in %s is stale "
                 "(python3 tests/helm/values_table.py --write %s)" % (path, path))
    with open(path, "w") as f:
        f.write(new)


if __name__ == "__main__":
    main()
