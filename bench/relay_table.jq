# bench/relay_table.jq: the relay section's table, from the array of run
# objects bench/run collects (each one `atmosphere-bench relay --json`).
# Tab-separated: figure, ours, HAProxy, nginx, plain TCP, ratio, seed, target,
# met. Medians over the rounds; "-" where a figure was not measured.
# Arguments: $mem, the session count of the memory runs; $rate, that of the
# set-up rate runs. Labels: relay, haproxy, nginx, direct (ws://, one
# thread each, pinned); relay-tls, haproxy-tls (wss://); relay-mt,
# haproxy-mt (two threads, unpinned); ":spread" (connections from many
# source addresses; relay-tls:spread holds idle wss:// sessions); ":sweep" (the session-count sweep);
# ":fair" (1,000 and 5,000 busy sessions x 16 KiB: fairness and TCP memory, issue 13);
# ":tail" (the tail-latency shapes of issue 13 in rounds of TAIL_SECS, sources spread).

def median: map(select(. != null)) | sort |
  if length == 0 then null
  elif length % 2 == 1 then .[(length / 2) | floor]
  else (.[length / 2 - 1] + .[length / 2]) / 2 end;

def fmt($p): if . == null then "-" else (. * pow(10; $p) | round) / pow(10; $p) | tostring end;

def runs($lab; $mode; $sessions; $size; $rate):
  map(select(.label == $lab and .mode == $mode and .sessions == $sessions
             and .size == $size and (.rate // 0) == $rate));

def tp($l; $n; $sz): runs($l; "throughput"; $n; $sz; 0) | map(.throughput.mb_per_s) | median;
def lat($l; $n; $r; $sz; $k): runs($l; "latency"; $n; $sz; $r) | map(.latency[$k]) | median;
def lost($l): map(select((.label == $l or .label == $l + ":tail") and .mode == "latency") | .latency.lost) | add;
def conn($l; $n; f): map(select(.label == $l and .mode == "connections" and .sessions == $n)) | map(f) | median;
def ratio($a; $b): if $a == null or $b == null or $b == 0 then null else $a / $b end;
def best($a; $b): [$a, $b] | map(select(. != null)) | min;
def met($ok): if $ok == null then "-" elif $ok then "yes" else "NO" end;
def row($fig; $ours; $hap; $ngx; $tcp; $ratio; $p; $seed; $target; $ok):
  [$fig, ($ours | fmt($p)), ($hap | fmt($p)), ($ngx | fmt($p)), ($tcp | fmt($p)), ($ratio | fmt(3)),
   $seed, $target, met($ok)] | join("\t");

. as $all
| ["figure", "ours", "HAProxy", "nginx", "plain TCP", "ratio", "seed", "target", "met"] | join("\t"),
  ( [[1, 1024, "1 x 1 KiB"], [1, 16384, "1 x 16 KiB"], [100, 1024, "100 x 1 KiB"], [100, 16384, "100 x 16 KiB"]][]
    | . as [$n, $sz, $name]
    | ($all | tp("relay"; $n; $sz)) as $o | ($all | tp("haproxy"; $n; $sz)) as $h
    | ($all | tp("nginx"; $n; $sz)) as $x | ($all | tp("direct"; $n; $sz)) as $d
    | row("throughput MB/s, \($name)"; $o; $h; $x; $d; ratio($o; $h); 1; "-"; ">= 1.0x HAProxy";
          if $o == null or $h == null then null else $o >= $h end) ),
  ( [1000, 5000][] as $n
    | ($all | runs("relay:fair"; "throughput"; $n; 16384; 0)) as $ours
    | ($all | runs("haproxy:fair"; "throughput"; $n; 16384; 0)) as $haps
    | def m($runs; f): $runs | map(f) | median;
      (m($ours; .throughput.mb_per_s)) as $o | (m($haps; .throughput.mb_per_s)) as $h
      | row("throughput MB/s, \($n) x 16 KiB (fairness rows)"; $o; $h; null; null; ratio($o; $h); 1; "-";
            ">= 1.0x HAProxy"; if $o == null or $h == null then null else $o >= $h end),
      ((m($ours; .throughput.jain)) as $oj | (m($haps; .throughput.jain)) as $hj
      | row("Jain's fairness index of per-session throughput, \($n) x 16 KiB"; $oj; $hj; null; null; null; 3; "-";
            ">= 0.9"; if $oj == null then null else $oj >= 0.9 end)),
      row("per-session MB/s, slowest session, \($n) x 16 KiB"; m($ours; .throughput.per_session_mb_per_s.min);
          m($haps; .throughput.per_session_mb_per_s.min); null; null; null; 3; "-"; "reported"; null),
      row("per-session MB/s, p10, \($n) x 16 KiB"; m($ours; .throughput.per_session_mb_per_s.p10);
          m($haps; .throughput.per_session_mb_per_s.p10); null; null; null; 3; "-"; "reported"; null),
      ((m($ours; .tcp_mem.pressure_bytes)) as $pm
      | row("TCP memory MB, machine peak during the run, \($n) x 16 KiB"; m($ours; .tcp_mem.peak_bytes / 1e6);
            m($haps; .tcp_mem.peak_bytes / 1e6); null; null; null; 0; "-";
            "reported (tcp_mem pressure mark \(if $pm == null then "?" else ($pm / 1e6 | round | tostring) end) MB)";
            null)),
      row("TCP memory MB in the server's own sockets, end of run, \($n) x 16 KiB"; m($ours; .tcp_mem.relay_end_bytes / 1e6);
          m($haps; .tcp_mem.relay_end_bytes / 1e6); null; null; null; 0; "-"; "bounded"; null),
      row("server CPU busy, in CPUs, \($n) x 16 KiB"; m($ours; .relay_cpu); m($haps; .relay_cpu); null; null; null; 2; "-";
          "reported"; null) ),
  ( [[100, 100, 64], [100, 100, 1400], [1000, 10, 64], [1000, 10, 1400]][]
    | . as [$n, $r, $sz]
    | (["p50_us", "p50"], ["p99_us", "p99"])
    | . as [$k, $kn]
    | ($all | lat("relay"; $n; $r; $sz; $k)) as $o | ($all | lat("haproxy"; $n; $r; $sz; $k)) as $h
    | ($all | lat("nginx"; $n; $r; $sz; $k)) as $x | ($all | lat("direct"; $n; $r; $sz; $k)) as $d
    | best($h; $x) as $b
    | row("latency \($kn) us, \($n) x \($r)/s x \($sz) B"; $o; $h; $x; $d; ratio($o; $b); 1; "-";
          "<= best of HAProxy, nginx"; if $o == null or $b == null then null else $o <= $b end) ),
  ( [[1000, 10, 1400], [5000, 1, 1400]][]
    | . as [$n, $r, $sz]
    | ( (["p50_us", "p50", null], ["p99_us", "p99", 1.5], ["p999_us", "p99.9", 1.5])
        | . as [$k, $kn, $f]
        | ($all | lat("relay:tail"; $n; $r; $sz; $k)) as $o | ($all | lat("haproxy:tail"; $n; $r; $sz; $k)) as $h
        | ($all | lat("nginx:tail"; $n; $r; $sz; $k)) as $x | ($all | lat("direct:tail"; $n; $r; $sz; $k)) as $d
        | best($h; $x) as $b
        | row("tail latency \($kn) us, \($n) x \($r)/s x \($sz) B, long rounds"; $o; $h; $x; $d; ratio($o; $b); 1; "-";
              if $f == null then "reported" else "<= \($f)x best of HAProxy, nginx" end;
              if $f == null or $o == null or $b == null then null else $o <= $f * $b end) ),
      ( ["p99_us", "p999_us"][] as $k
        | def lag($l): $all | runs($l; "latency"; $n; $sz; $r) | map(.latency.send_lag[$k]) | median;
        row("generator send lag \(if $k == "p99_us" then "p99" else "p99.9" end) us (its own share), \($n) x \($r)/s x \($sz) B, long rounds";
            lag("relay:tail"); lag("haproxy:tail"); lag("nginx:tail"); lag("direct:tail"); null; 1; "-"; "small beside latency"; null) ),
      ( def oth($l): $all | runs($l; "latency"; $n; $sz; $r) | map(.other_cpu) | median;
        row("other load, CPUs busy, \($n) x \($r)/s x \($sz) B, long rounds"; oth("relay:tail"); oth("haproxy:tail");
            oth("nginx:tail"); oth("direct:tail"); null; 2; "-"; "reported"; null) ) ),
  ( [$all | lost("relay"), lost("haproxy"), lost("nginx"), lost("direct")] as [$o, $h, $x, $d]
    | row("latency messages lost, all shapes"; $o; $h; $x; $d; null; 0; "-"; "0 (all delivered)";
          if $o == null then null else $o == 0 end) ),
  ( [[1, 16384, "1 x 16 KiB"], [100, 16384, "100 x 16 KiB"]][]
    | . as [$n, $sz, $name]
    | ($all | tp("relay-tls"; $n; $sz)) as $o | ($all | tp("haproxy-tls"; $n; $sz)) as $h
    | row("wss throughput MB/s, \($name) (TLS 1.3; HAProxy terminates TLS)"; $o; $h; null; null; ratio($o; $h); 1;
          "-"; "reported"; null) ),
  ( [[1, 16384, "1 x 16 KiB"], [100, 16384, "100 x 16 KiB"]][]
    | . as [$n, $sz, $name]
    | ratio($all | tp("relay-tls"; $n; $sz); $all | tp("relay"; $n; $sz)) as $o
    | ratio($all | tp("haproxy-tls"; $n; $sz); $all | tp("haproxy"; $n; $sz)) as $h
    | row("wss / ws throughput, \($name), same rounds"; $o; $h; null; null; null; 3; "-"; "reported"; null) ),
  ( (["p50_us", "p50"], ["p99_us", "p99"])
    | . as [$k, $kn]
    | ($all | lat("relay-tls"; 100; 100; 1400; $k)) as $o | ($all | lat("haproxy-tls"; 100; 100; 1400; $k)) as $h
    | row("wss latency \($kn) us, 100 x 100/s x 1400 B"; $o; $h; null; null; ratio($o; $h); 1; "-"; "reported";
          null) ),
  ( [$all | lost("relay-tls"), lost("haproxy-tls")] as [$o, $h]
    | row("wss latency messages lost"; $o; $h; null; null; null; 0; "-"; "0 (all delivered)";
          if $o == null then null else $o == 0 end) ),
  ( ($all | runs("relay-tls"; "latency"; 100; 1400; 100) | map(.wire.total.overhead_pct) | median) as $o
    | ($all | runs("haproxy-tls"; "latency"; 100; 1400; 100) | map(.wire.total.overhead_pct) | median) as $h
    | row("wss wire overhead % at 1,400 B (TLS bytes, both hops)"; $o; $h; null; null; null; 3; "-"; "reported";
          null) ),
  ( ($all | runs("relay-tls"; "throughput"; 100; 16384; 0) | map(.relay_cpu_us_per_msg) | median) as $o
    | ($all | runs("haproxy-tls"; "throughput"; 100; 16384; 0) | map(.relay_cpu_us_per_msg) | median) as $h
    | row("wss server CPU us per message, 100 x 16 KiB"; $o; $h; null; null; ratio($o; $h); 2; "-"; "reported";
          null) ),
  ( ($all | tp("relay-mt"; 100; 16384)) as $o | ($all | tp("haproxy-mt"; 100; 16384)) as $h
    | row("throughput MB/s, 100 x 16 KiB, server 2 threads + generator 2 threads, unpinned on both CPUs"; $o; $h;
          null; null; ratio($o; $h); 1; "-"; ">= 1.0x HAProxy"; if $o == null or $h == null then null else $o >= $h end) ),
  ( $all | runs("relay"; "latency"; 100; 1400; 100) | map(.wire.total.overhead_pct) | median ) as $ov
  | row("wire overhead % at 1,400 B (both hops, all bytes)"; $ov; null; null; null; null; 3; "~5 %"; "< 1 %";
        if $ov == null then null else $ov < 1 end),
  ( ($all | conn("relay:spread"; $mem; .connections.relay_rss_bytes_per_conn)) as $o
    | ($all | conn("haproxy:spread"; $mem; .connections.relay_rss_bytes_per_conn)) as $h
    | row("RSS B per idle connection, \($mem) sessions"; $o; $h; null; null; ratio($o; $h); 0;
          "17 KiB (Node ws 7 KiB)"; "< 2 KiB (2048)"; if $o == null then null else $o < 2048 end) ),
  ( ($all | conn("relay:spread"; $mem; .connections.bench_rss_bytes_per_conn)) as $g
    | row("load generator RSS B per idle connection, \($mem) sessions (hibernating, issue 15)"; $g; null; null; null;
          null; 0; "13-16 KB before"; "<= 4 KiB (4096)"; if $g == null then null else $g <= 4096 end) ),
  ( ($all | conn("relay-tls:spread"; $mem; .connections.relay_rss_bytes_per_conn)) as $o
    | row("RSS B per idle wss:// connection, \($mem) sessions (TLS 1.3, ECDSA P-256)"; $o; null; null; null; null; 0;
          "15.6 KiB (issue 13)"; "<= 4 KiB (4096)"; if $o == null then null else $o <= 4096 end) ),
  ( ratio($all | conn("relay-tls:spread"; $mem; .connections.relay_rss_bytes_per_conn);
          $all | conn("relay:spread"; $mem; .connections.relay_rss_bytes_per_conn)) as $o
    | row("wss / ws RSS per idle connection, \($mem) sessions"; $o; null; null; null; null; 2; "-"; "reported";
          null) ),
  ( [$rate, $mem][] as $n
    | ($all | conn("relay:spread"; $n; .setup.sessions_per_s)) as $o
    | ($all | conn("haproxy:spread"; $n; .setup.sessions_per_s)) as $h
    | ($all | conn("direct:spread"; $n; .setup.sessions_per_s)) as $d
    | row("new sessions/s, \($n) sessions (2 upgrades each; sources spread over 127.0.0.0/8)"; $o; $h; null; $d;
          ratio($o; $h); 0; "-"; ">= 20,000"; if $o == null then null else $o >= 20000 end) ),
  # What the rate costs while sessions come up: the server's CPU per
  # session (issue 13: the rate is bound by whichever of server and
  # generator is busier, and on 2 CPUs that is the generator), and the
  # generator's own, whose busy share says how near its ceiling it ran.
  ( [$rate, $mem][] as $n
    | ($all | conn("relay:spread"; $n; .setup.server_us_per_session)) as $o
    | ($all | conn("haproxy:spread"; $n; .setup.server_us_per_session)) as $h
    | row("set-up server CPU us per new session, \($n) sessions (spread)"; $o; $h; null; null; ratio($o; $h); 1; "-";
          "<= 1.0x HAProxy"; if $o == null or $h == null then null else $o <= $h end) ),
  ( [$rate, $mem][] as $n
    | (["bench_us_per_session", "generator CPU us per new session", 1], ["bench_busy", "generator busy share", 2])
    | . as [$k, $name, $p]
    | [("relay:spread", "haproxy:spread", "direct:spread") as $l | $all | conn($l; $n; .setup[$k])] as [$o, $h, $d]
    | row("set-up \($name), \($n) sessions (spread)"; $o; $h; null; $d; null; $p; "-"; "reported"; null) ),
  ( [$rate, $mem][] as $n
    | ($all | conn("relay"; $n; .setup.sessions_per_s)) as $o
    | ($all | conn("haproxy"; $n; .setup.sessions_per_s)) as $h
    | ($all | conn("direct"; $n; .setup.sessions_per_s)) as $d
    | row("new sessions/s, \($n) sessions, all from 127.0.0.1 (kernel port search)"; $o; $h; null; $d; ratio($o; $h);
          0; "-"; "reported"; null) ),
  ( ($all | runs("relay"; "throughput"; 100; 16384; 0) | map(.relay_cpu_us_per_msg) | median) as $o
    | ($all | runs("haproxy"; "throughput"; 100; 16384; 0) | map(.relay_cpu_us_per_msg) | median) as $h
    | ($all | runs("nginx"; "throughput"; 100; 16384; 0) | map(.relay_cpu_us_per_msg) | median) as $x
    | row("server CPU us per message, 100 x 16 KiB"; $o; $h; $x; null; ratio($o; $h); 2; "-"; "reported"; null) ),
  ( ($all | tp("direct"; 100; 16384)) as $d
    | row("load generator ceiling MB/s, 100 x 16 KiB, no hop"; null; null; null; $d; null; 1; "-";
          "above every hop"; null) )
