#!/bin/sh
# dist/relay.conf against `atmosphere relay --help`, so the shipped file
# cannot drift from the options: every option of --help (but help, config
# and check-config) is in the file once, as "#name = default" or "#name" for
# a flag, every such line names a real option, and where --help states a
# default the file gives the same value. With every option line uncommented
# (the certificate pointed at a test one, the ports at free ones) the file
# passes --check-config and a relay starts from it and answers /health.
# Usage: relay_conf.sh BINARY CONF.
set -u
bin=$1
conf=$2
fail() { echo "FAIL: $*" >&2; exit 1; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/relay-conf.$$.XXXXXX")
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$dir"' EXIT INT TERM

# --help as "name<TAB>text" per option, continuation lines joined (new-key
# is an action, not a setting).
"$bin" relay --help | awk '
	/^  --[a-z0-9-]+/ { if (name) print name "\t" text; name = substr($1, 3); $1 = ""; text = $0; next }
	/^                    / && name { text = text " " $0; next }
	{ if (name) print name "\t" text; name = "" }
	END { if (name) print name "\t" text }' | grep -v -E '^(help|config|check-config|new-key)	' >"$dir/help"
[ "$(wc -l <"$dir/help")" -ge 20 ] || fail "read only $(wc -l <"$dir/help") options from --help"
# The file's option lines: "#name = value" or "#name".
sed -n 's/^#\([a-z0-9-][a-z0-9-]*\)\( = \(.*\)\)\{0,1\}$/\1\t\3/p' "$conf" >"$dir/conf"

while IFS='	' read -r name text; do
	n=$(grep -c "^$name	" "$dir/conf")
	[ "$n" -eq 1 ] || fail "--$name: $n lines '#$name ...' in $conf, want 1"
	def=$(echo "$text" | sed -n 's/.*(default \([^:;) ]*\)[:;) ].*/\1/p')
	if [ -n "$def" ]; then
		val=$(grep "^$name	" "$dir/conf" | cut -f2)
		[ "$val" = "$def" ] || fail "--$name: --help says default '$def', $conf says '$val'"
	fi
done <"$dir/help"
cut -f1 "$dir/conf" | while read -r name; do
	grep -q "^$name	" "$dir/help" || fail "$conf sets '$name', which 'atmosphere relay --help' does not list"
done || exit 1

# Every option at once: a valid file, and a relay that starts from it.
tls=""
if command -v openssl >/dev/null 2>&1 && command -v curl >/dev/null 2>&1; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$dir/key.pem" \
		-out "$dir/cert.pem" -days 2 -subj /CN=localhost >/dev/null 2>&1 && tls=1
fi
sed -e 's/^#\([a-z0-9-]\)/\1/' \
	-e "s|^tls-cert = .*|tls-cert = $dir/cert.pem|" -e "s|^tls-key = .*|tls-key = $dir/key.pem|" \
	-e "s|^budget-state = .*|budget-state = $dir/budget|" \
	"$conf" >"$dir/all.conf"
[ -n "$tls" ] || sed -i -e '/^tls-/d' -e '/^plain-port/d' "$dir/all.conf"
# The access options go with one mode each: the allow-list file is checked
# on its own, the relay starts in mesh-token mode with a fresh key.
"$bin" relay --new-key >"$dir/relay.key" || fail "--new-key"
sed -e '/^relay-key-file/d' -e 's/^access = .*/access = allow-list/' "$dir/all.conf" >"$dir/allow.conf"
"$bin" relay --check-config "$dir/allow.conf" >"$dir/out" 2>&1 || fail "allow-list options: $(cat "$dir/out")"
sed -i -e '/^allow-net/d' -e 's/^access = .*/access = mesh-token/' \
	-e "s|^relay-key-file = .*|relay-key-file = $dir/relay.key|" "$dir/all.conf"
"$bin" relay --check-config "$dir/all.conf" >"$dir/out" 2>&1 || fail "every option uncommented: $(cat "$dir/out")"
[ -n "$tls" ] || { echo "ok relay_conf (no openssl or curl: start not tried)"; exit 0; }
"$bin" relay --config "$dir/all.conf" --host 127.0.0.1 --port 0 --plain-port 0 --stun-port 0 >"$dir/rout" 2>"$dir/rerr" &
pid=$!
i=0
while ! grep -q '^plain listening on 127.0.0.1:' "$dir/rout" 2>/dev/null; do
	kill -0 "$pid" 2>/dev/null || fail "relay from every option exited: $(cat "$dir/rerr")"
	i=$((i + 1)); [ $i -lt 200 ] || fail "relay did not start: $(cat "$dir/rout" "$dir/rerr")"; sleep 0.05
done
port=$(sed -n 's/^plain listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$dir/rout")
body=$(curl --silent --show-error --max-time 10 "http://127.0.0.1:$port/health") || fail "/health: curl failed"
echo "$body" | grep -q '"status": "ok"' || fail "/health: '$body'"
kill "$pid"; wait "$pid"; rc=$?; pid=""
[ $rc -eq 0 ] || fail "relay exited $rc after SIGTERM"
# The budget options took effect: the count was kept where budget-state says.
head -1 "$dir/budget" 2>/dev/null | grep -qx 'atmosphere-relay-budget 1' || fail "no budget state in $dir/budget"
echo "ok relay_conf ($(wc -l <"$dir/help") options)"
