#!/usr/bin/env bash
# layout: the source tree, each file with its purpose line (the first comment after the SPDX line), for `make layout`.
# Read from the files themselves, so it cannot go stale: a file's purpose is its own line 1 or
# 2 (STYLE.md 7). Data is left out: JSON, go.sum, and the table cases' files, whose folders
# are shown (`run_cases --list` prints the cases). Files come from git when this is a checkout, else from the tree.
#   usage: tests/tools/layout.sh [DIR]
set -euo pipefail
cd "${1:-$(dirname "$0")/../..}"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git ls-files --cached --others --exclude-standard
else
	find . -path ./build -prune -o -path ./.git -prune -o -type f -print | sed 's|^\./||'
fi | sed -E 's|^(tests/cases/.+/)[^/]+$|\1|' | grep -vE '\.json$|(^|/)go\.sum$' | LC_ALL=C sort -u |
while IFS= read -r f; do
	# The purpose: past a shebang, an SPDX line and empty comment lines, the first line if
	# it is a comment; a Markdown file's title. (A table-case folder stands for its files.)
	purpose=
	[ "${f%/}" = "$f" ] && purpose=$(awk 'NR > 5 { exit }
		/^#!/ || /SPDX-License-Identifier/ || /^(#|--|\/\/) *$/ { next }
		{ line = $0
		  if (sub(/^\/\* ?/, "", line)) sub(/ ?\*\/ *$/, "", line)
		  else if (!(sub(/^(#+|--|\/\/) ?/, "", line) || sub(/^"""/, "", line))) line = ""
		  sub(/"""$/, "", line); print line; exit }' "$f")
	printf '%s\t%s\n' "$f" "$purpose"
done | awk -F '\t' '
	# Prints each folder once, before its files, indented by depth; purposes in one column.
	{ n = split($1, p, "/"); if (p[n] == "") n--; dir = ""
	  for (i = 1; i < n; i++) {
		dir = dir p[i] "/"
		if (!(dir in seen)) { seen[dir] = 1; out[++k] = sprintf("%*s%s", 2 * (i - 1), "", p[i] "/"); txt[k] = "" }
	  }
	  if ($1 ~ /\/$/) { if (!($1 in seen)) { seen[$1] = 1; out[++k] = sprintf("%*s%s", 2 * (n - 1), "", p[n] "/"); txt[k] = "" } next }
	  out[++k] = sprintf("%*s%s", 2 * (n - 1), "", p[n]); txt[k] = $2
	  if (length(out[k]) > w) w = length(out[k]) }
	END { for (i = 1; i <= k; i++) if (txt[i] == "") print out[i]; else printf "%-*s  %s\n", w, out[i], txt[i] }'
