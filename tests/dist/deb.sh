#!/bin/sh
# The Debian package, end to end, as an operator gets it:
#   1. configure a package tree (Release, prefix /usr, no tests) and build it,
#      `cpack -G DEB`: atmosphere_<version>_<arch>.deb, Depends computed;
#   2. lintian: no error and no warning;
#   3. dpkg -i; the files where they belong, relay.conf a conffile, the man
#      pages found by man;
#   4. systemd-analyze verify on the installed units: nothing to say (it
#      works offline, systemd need not be PID 1);
#   5. the unit's own ExecStart command with the installed config, the port
#      overridden with a free one: /health answers; --check-config accepts
#      the installed file; with a budget, its count lands in the unit's
#      state directory ($STATE_DIRECTORY);
#   6. dpkg --purge: nothing left behind (the relay's state directory too).
# Needs root (dpkg -i): skips (77) as another user. A machine that already
# has the package installed is left alone (skip). Every step cleans up after
# itself, on failure too.
# Usage: deb.sh SOURCE_DIR WORK_DIR C_COMPILER
set -u
src=$1
work=$2
cc=$3
fail() { echo "FAIL: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "SKIP: installing a package needs root"; exit 77; }
if dpkg-query -W -f='${Status}' atmosphere 2>/dev/null | grep -q 'installed'; then
	echo "SKIP: an atmosphere package is installed here already; not replacing it"
	exit 77
fi
for t in cpack dpkg-deb dpkg-shlibdeps lintian help2man systemd-analyze curl; do
	command -v $t >/dev/null 2>&1 || fail "$t not found: run .ci/deps"
done
dir=$(mktemp -d "${TMPDIR:-/tmp}/atmos-deb.$$.XXXXXX")
pid=""
installed=""
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	[ -n "$installed" ] && dpkg --purge atmosphere >/dev/null 2>&1
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

# 1. Build the package. The tree persists in WORK_DIR, so a rerun only
# rebuilds what changed.
cmake -S "$src" -B "$work" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr -DATMOS_TESTS=OFF \
	-DATMOS_WERROR=ON -DCMAKE_C_COMPILER="$cc" >"$dir/log" 2>&1 || fail "configure: $(tail -20 "$dir/log")"
cmake --build "$work" -j2 >"$dir/log" 2>&1 || fail "build: $(tail -20 "$dir/log")"
rm -rf "$work/package"
(cd "$work" && cpack -G DEB) >"$dir/log" 2>&1 || fail "cpack: $(tail -20 "$dir/log")"
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$work/CMakeCache.txt")
arch=$(dpkg --print-architecture)
deb=$work/package/atmosphere_${version}_${arch}.deb
[ -f "$deb" ] || fail "no $deb: $(ls "$work/package")"
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libc6 liburing2 android-libboringssl libjson-c5; do
	echo "$depends" | grep -q "$lib" || fail "Depends: '$depends' lacks $lib"
done

# 2. lintian: errors and warnings both fail (informational tags do not).
lintian --fail-on error,warning "$deb" >"$dir/lintian" 2>&1 || fail "lintian: $(cat "$dir/lintian")"

# 3. Install.
installed=1
dpkg -i "$deb" >"$dir/log" 2>&1 || fail "dpkg -i: $(cat "$dir/log")"
for f in /usr/bin/atmosphere /usr/bin/atmosphere-bench /etc/atmosphere/relay.conf \
	/lib/systemd/system/atmosphere-relay.service /lib/systemd/system/atmosphere-node.service \
	/usr/lib/systemd/user/atmosphere-node.service /usr/share/doc/atmosphere/copyright; do
	[ -e "$f" ] || fail "$f not installed"
done
dpkg-query -W -f='${Conffiles}\n' atmosphere | grep -q '^ /etc/atmosphere/relay.conf ' ||
	fail "relay.conf is not a conffile: $(dpkg-query -W -f='${Conffiles}' atmosphere)"
# The man pages are in the package (checked there, not under /usr/share/man:
# minimal Debian images tell dpkg not to install documentation), made from
# the installed binaries' --help. lintian has checked that they render.
for page in man1/atmosphere.1 man8/atmosphere-relay.8 man1/atmosphere-bench.1; do
	dpkg-deb -c "$deb" | grep -q " ./usr/share/man/$page.gz$" || fail "no $page in the package"
done
mkdir "$dir/x"
dpkg-deb -x "$deb" "$dir/x"
zcat "$dir/x/usr/share/man/man8/atmosphere-relay.8.gz" | grep -q 'check\\-config' ||
	fail "atmosphere-relay(8) lacks --check-config"
zcat "$dir/x/usr/share/man/man8/atmosphere-relay.8.gz" | grep -q '^\.TH ATMOSPHERE-RELAY "8"' ||
	fail "atmosphere-relay(8) is not named so"
/usr/bin/atmosphere version | grep -qx "atmosphere $version" || fail "installed version: $(/usr/bin/atmosphere version)"

# 4. The units, as systemd reads them. verify's exit status ignores unknown
# keys and bad values (it only warns), so any output is a failure.
systemd-analyze verify /lib/systemd/system/atmosphere-relay.service /lib/systemd/system/atmosphere-node.service \
	>"$dir/verify" 2>&1 || fail "systemd-analyze verify: $(cat "$dir/verify")"
[ ! -s "$dir/verify" ] || fail "systemd-analyze verify: $(cat "$dir/verify")"
mkdir -m 0700 "$dir/xdg"
XDG_RUNTIME_DIR=$dir/xdg systemd-analyze --user verify /usr/lib/systemd/user/atmosphere-node.service \
	>"$dir/verify" 2>&1 || fail "systemd-analyze --user verify: $(cat "$dir/verify")"
[ ! -s "$dir/verify" ] || fail "systemd-analyze --user verify: $(cat "$dir/verify")"
unit=/lib/systemd/system/atmosphere-relay.service
for k in Type=notify WatchdogSec= DynamicUser=yes AmbientCapabilities=CAP_NET_BIND_SERVICE LimitNOFILE= \
	ProtectSystem=strict NoNewPrivileges=yes Restart=on-failure 'ExecReload=/bin/kill -HUP $MAINPID'; do
	grep -q "^$k" "$unit" || fail "$unit lacks $k"
done

# 5. The installed relay, started as the unit starts it, on a free port.
/usr/bin/atmosphere relay --check-config /etc/atmosphere/relay.conf >"$dir/log" 2>&1 ||
	fail "installed relay.conf: $(cat "$dir/log")"
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
case "$exec_start" in "/usr/bin/atmosphere relay --config /etc/atmosphere/relay.conf") ;;
	*) fail "ExecStart='$exec_start'" ;; esac
# With a budget, the count goes to the unit's state directory as systemd
# names it ($STATE_DIRECTORY, from StateDirectory=).
grep -qx 'StateDirectory=atmosphere-relay' "$unit" || fail "$unit lacks StateDirectory=atmosphere-relay"
mkdir -m 0700 "$dir/state"
# shellcheck disable=SC2086
STATE_DIRECTORY=$dir/state $exec_start --host 127.0.0.1 --port 0 --budget 1G/month >"$dir/rout" 2>"$dir/rerr" &
pid=$!
i=0
while ! grep -q '^relay listening on 127.0.0.1:' "$dir/rout" 2>/dev/null; do
	kill -0 "$pid" 2>/dev/null || fail "installed relay exited: $(cat "$dir/rerr")"
	i=$((i + 1)); [ $i -lt 200 ] || fail "installed relay did not start: $(cat "$dir/rerr")"; sleep 0.05
done
port=$(sed -n 's/^relay listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$dir/rout")
body=$(curl --silent --show-error --max-time 10 "http://127.0.0.1:$port/health") || fail "/health: curl failed"
echo "$body" | grep -Eq '^\{"status": "ok", "sessions": 0, "timestamp": [0-9]+\}$' || fail "/health: '$body'"
kill "$pid"; wait "$pid"; rc=$?; pid=""
[ $rc -eq 0 ] || fail "installed relay exited $rc after SIGTERM"
head -1 "$dir/state/budget" 2>/dev/null | grep -qx 'atmosphere-relay-budget 1' ||
	fail "no budget count in \$STATE_DIRECTORY/budget: $(cat "$dir/rerr")"

# 6. Purge: nothing of the package stays, the relay's budget count (as
# systemd keeps a dynamic user's state directory) included.
fake_state=""
if [ ! -e /var/lib/private/atmosphere-relay ] && [ ! -e /var/lib/atmosphere-relay ]; then
	mkdir -p /var/lib/private/atmosphere-relay && cp "$dir/state/budget" /var/lib/private/atmosphere-relay/ &&
		ln -s private/atmosphere-relay /var/lib/atmosphere-relay && fake_state=1
fi
dpkg --purge atmosphere >"$dir/log" 2>&1 || fail "dpkg --purge: $(cat "$dir/log")"
installed=""
for f in /usr/bin/atmosphere /etc/atmosphere /lib/systemd/system/atmosphere-relay.service \
	/usr/share/doc/atmosphere ${fake_state:+/var/lib/private/atmosphere-relay /var/lib/atmosphere-relay}; do
	[ ! -e "$f" ] || fail "$f left after purge"
done
echo "ok deb: $(basename "$deb"), Depends: $depends; lintian clean; units verified; /health from the installed relay"
