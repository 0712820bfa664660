#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# check_style: the house rules a compiler does not check (STYLE.md), over every C source file.
#   1. line 1 is the SPDX line, line 2 a one-line purpose comment "/* name: what it is for */";
#   2. none of the functions curl bans (unbounded, or hard to use safely);
#   3. policies/ includes no header from outside policies/ (it is pure);
#   4. the HTTPS endpoint (webhook/server.[ch]) includes nothing from webhook/kube/ or
#      webhook/controller/: it decides against the view the process gives it.
# Prints each violation as file:line: reason, then "N passed, N failed" (one check per file
# and rule). ROOT= checks another tree (how the tests plant a violation).
set -u
cd "${ROOT:-.}" || exit 2
mapfile -t files < <(find webhook policies certs bench tests/unit tests/tools -name '*.[ch]' | sort)
[ ${#files[@]} -gt 0 ] || { echo "no sources under $(pwd)"; echo "0 passed, 1 failed"; exit 1; }
separate=$(ls webhook/kube/*.h webhook/controller/*.h 2>/dev/null | xargs -n1 basename | tr '\n' ' ')

# One awk pass over every file; each file gets checks 1 and 2, policies/ files check 3 and
# the endpoint check 4. A rule's violations in one file count as one failed check.
awk -v banned='^(gets|sprintf|vsprintf|strcat|strncat|strncpy|strtok|strtok_r|sscanf|vsscanf|scanf|fscanf)$' \
    -v separate=" $separate " '
function flag(rule, msg) { print FILENAME ":" FNR ": " msg; bad[FILENAME, rule] = 1 }
FNR == 1 {
	nfiles++; name[nfiles] = FILENAME; incomment = 0
	if ($0 != "/* SPDX-License-Identifier: Apache-2.0 */")
		flag(1, "the first line must be /* SPDX-License-Identifier: Apache-2.0 */")
}
FNR == 2 && $0 !~ /^\/\* [a-z_0-9]+: .+\*\/$/ {
	flag(1, "the second line must say in one line what the file is for: /* name: ... */")
}
{
	line = $0
	# Comments and string literals out, so that prose may name a banned function.
	if (incomment) { if (sub(/^.*\*\//, "", line)) incomment = 0; else next }
	gsub(/"([^"\\]|\\.)*"/, "\"\"", line)
	gsub(/\/\*.*\*\//, "", line)
	if (sub(/\/\*.*$/, "", line)) incomment = 1
	sub(/\/\/.*$/, "", line)
	rest = line
	while (match(rest, /[A-Za-z_][A-Za-z0-9_]*[ \t]*\(/)) {
		id = substr(rest, RSTART, RLENGTH); sub(/[ \t]*\($/, "", id)
		pre = RSTART > 1 ? substr(rest, RSTART - 1, 1) : ""
		if (id ~ banned && pre != "." && pre != ">")
			flag(2, "banned function " id "()")
		rest = substr(rest, RSTART + RLENGTH)
	}
}
/^[ \t]*#[ \t]*include[ \t]*"/ {
	h = $0; sub(/^[^"]*"/, "", h); sub(/".*$/, "", h)
	if (FILENAME ~ /^policies\// && system("test -f \"policies/" h "\"") != 0)
		flag(3, "policies/ may include only policies/ headers, not \"" h "\"")
	base = h; sub(/^.*\//, "", base)
	if (FILENAME ~ /^webhook\/server\.[ch]$/ && index(separate, " " base " ") > 0)
		flag(4, "the HTTPS endpoint may not include \"" h "\" (webhook/kube/, webhook/controller/)")
}
END {
	for (i = 1; i <= nfiles; i++) {
		f = name[i]
		for (r = 1; r <= 4; r++) {
			if (r == 3 && f !~ /^policies\//) continue
			if (r == 4 && f !~ /^webhook\/server\.[ch]$/) continue
			if ((f, r) in bad) failed++; else passed++
		}
	}
	printf "%d passed, %d failed\n", passed, failed
	exit failed > 0
}' "${files[@]}"
