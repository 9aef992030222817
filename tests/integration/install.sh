#!/usr/bin/env bash
# make install into a scratch DESTDIR, no KVM needed: every file where the
# FHS puts it with install(1)'s modes, the installed wisp answering, the
# man pages lint-clean and rendering, and make uninstall removing what it
# put there (and nothing else).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
cd "$here/../.."

D="$TMP/dest"
P=/opt/wisp-test
mkdir -p "$D$P/share/doc"
touch "$D$P/share/doc/other" # not ours: uninstall must leave it
make -s install DESTDIR="$D" PREFIX="$P" >"$TMP/out" 2>"$TMP/err"
RC=$?
expect_rc "make install" 0
for b in wisp wisp-jailer wisp-snap uffd-handler; do
	check "bin/$b mode" 755 "$(stat -c %a "$D$P/bin/$b" 2>&1)"
done
for m in wisp.1 wisp-jailer.1 wisp-snap.1; do
	f="$D$P/share/man/man1/$m"
	check "man1/$m mode" 644 "$(stat -c %a "$f" 2>&1)"
	# groff -ww warns about any mdoc misuse; -z renders to nowhere.
	if w=$(groff -mdoc -ww -z "$f" 2>&1) && [ -z "$w" ]; then
		ok "man1/$m: no groff warning"
	else
		bad "man1/$m" "$w"
	fi
	if man -l "$f" 2>/dev/null | grep -q "SYNOPSIS"; then
		ok "man1/$m renders"
	else
		bad "man1/$m" "man -l shows no SYNOPSIS"
	fi
done
for d in api.md architecture.md security.md snapshots.md perf.md README.md; do
	check "doc/wisp/$d mode" 644 "$(stat -c %a "$D$P/share/doc/wisp/$d" 2>&1)"
done
"$D$P/bin/wisp" --version >"$TMP/out" 2>"$TMP/err"
RC=$?
expect_rc "installed wisp --version" 0
expect_line "installed wisp --version" out '^wisp v[0-9]+\.[0-9]+\.[0-9]+$'
# The binaries are static: a jail has no libc.
for b in wisp wisp-jailer; do
	if file "$D$P/bin/$b" 2>/dev/null | grep -q "statically linked" ||
		! ldd "$D$P/bin/$b" >/dev/null 2>&1; then
		ok "bin/$b is static"
	else
		bad "bin/$b" "dynamically linked: $(ldd "$D$P/bin/$b" | head -2)"
	fi
done

make -s uninstall DESTDIR="$D" PREFIX="$P" >"$TMP/out" 2>"$TMP/err"
RC=$?
expect_rc "make uninstall" 0
left=$(cd "$D$P" && find . -type f | sort | tr '\n' ' ')
check "uninstall leaves only what was not ours" "./share/doc/other " "$left"

summary install
