#!/bin/sh
# dist/man.sh: the man pages, made at build time from the programs' own
# --help (help2man), so a page cannot say anything --help does not.
#
#   man.sh ATMOSPHERE ATMOSPHERE_BENCH OUTDIR
#
# writes OUTDIR/atmosphere.1, OUTDIR/atmosphere-relay.8 and
# OUTDIR/atmosphere-bench.1. The relay is the subcommand `atmosphere relay`
# (there is no atmosphere-relay binary); its page carries the name systemd's
# unit and an operator look for, and section 8 for a system daemon.
# What --help cannot say (files, signals, environment, see also) comes from
# dist/man/*.h2m. SOURCE_DATE_EPOCH, when set, dates the pages (help2man
# honours it) so two builds of one commit give the same bytes.
set -eu
atmos=$1
bench=$2
out=$3
here=$(cd "$(dirname "$0")" && pwd)
command -v help2man >/dev/null 2>&1 || { echo "man.sh: help2man not found (apt-get install help2man)" >&2; exit 1; }
mkdir -p "$out"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/atmos-man.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

# roff for preformatted text: backslashes escaped, no line read as a request.
roff() { sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"; }

# synopsis PROGRAM [SUBCOMMAND]: a SYNOPSIS section from the "usage:" lines
# of --help (help2man only recognises "Usage:").
synopsis() {
	echo "[SYNOPSIS]"
	"$@" --help | sed -n '1,/^$/p' | sed -e 's/^usage: *//' -e 's/^ *//' -e '/^$/d' |
		roff | sed -e 's/^/.B /' -e 's/$/\n.br/'
}

# details PROGRAM SKIP...: every subcommand's --help, one subsection each
# (the names come from the "Commands:" list of PROGRAM --help).
details() {
	prog=$1
	shift
	echo "[COMMANDS IN DETAIL]"
	for c in $("$prog" --help | sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z0-9-]*\) .*/\1/p'); do
		skip=""
		for s in "$@"; do [ "$c" = "$s" ] && skip=1; done
		echo ".SS \"$(basename "$prog") $c\""
		if [ -n "$skip" ]; then
			echo "See"
			echo ".BR $(basename "$prog")-$c (8)."
			continue
		fi
		echo ".nf"
		"$prog" "$c" --help | roff
		echo ".fi"
	done
}

# page PROGRAM NAME SECTION DESCRIPTION INCLUDE...: help2man, then the
# "usage:" lines it left in DESCRIPTION removed (SYNOPSIS has them).
page() {
	prog=$1 name=$2 sect=$3 desc=$4
	shift 4
	incs=""
	for i in "$@"; do incs="$incs --include=$i"; done
	# shellcheck disable=SC2086
	help2man --no-info --no-discard-stderr --section "$sect" --name "$desc" $incs \
		--help-option="$HELP_OPTION" --version-option=--version "$prog" >"$tmp/page"
	awk 'state == 0 && /^usage:/ { state = 1; next }
	     state == 1 { if ($0 == ".PP") state = 2; next }
	     { print }' "$tmp/page" >"$out/$name.$sect"
}

HELP_OPTION=--help
synopsis "$atmos" >"$tmp/atmos.h2m"
details "$atmos" relay >>"$tmp/atmos.h2m"
page "$atmos" atmosphere 1 "peer-to-peer connectivity for Linux: STUN, NAT traversal, relays" \
	"$tmp/atmos.h2m" "$here/man/atmosphere.h2m"

HELP_OPTION="relay --help"
synopsis "$atmos" relay >"$tmp/relay.h2m"
page "$atmos" atmosphere-relay 8 "WebSocket relay (and STUN server) for Atmosphere meshes" \
	"$tmp/relay.h2m" "$here/man/atmosphere-relay.h2m"
# help2man names the page after the program: this one is the relay's.
sed -i -e 's/^\.TH ATMOSPHERE "8"/.TH ATMOSPHERE-RELAY "8"/' \
	-e '/^\.SH NAME$/{n;s/^atmosphere \\-/atmosphere-relay \\-/}' "$out/atmosphere-relay.8"

HELP_OPTION=--help
synopsis "$bench" >"$tmp/bench.h2m"
details "$bench" >>"$tmp/bench.h2m"
page "$bench" atmosphere-bench 1 "load-test relays and STUN servers, measure Atmosphere's figures" \
	"$tmp/bench.h2m" "$here/man/atmosphere-bench.h2m"
