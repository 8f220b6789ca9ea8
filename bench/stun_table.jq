# bench/stun_table.jq: the STUN section's table, from the array of
# `atmosphere-bench stun --json` objects bench/run collects. Tab-separated:
# figure, ours, coturn, reflector, ratio, target, met. Medians over rounds.
# The reflector is atmosphere-bench's minimal STUN server (one send per
# answer, nothing checked): a reference, not an upper bound.
# Also: the garbage-flood runs (objects with .garbage: quiet and flood slots
# of the same runs; $garbage is the asked rate), our server with --threads 2
# (label ours-2t) and the client's cost (tool stun-client, labels client-3
# and client-1).

def median: map(select(. != null)) | sort |
  if length == 0 then null
  elif length % 2 == 1 then .[(length / 2) | floor]
  else (.[length / 2 - 1] + .[length / 2]) / 2 end;
def fmt($p): if . == null then "-" else (. * pow(10; $p) | round) / pow(10; $p) | tostring end;
def pick($l; $mode): map(select(.tool == "stun" and .garbage == null and .label == $l and .mode == $mode));
def flood($l): map(select(.tool == "stun" and .garbage != null and .label == $l));
def fmed($l; f): flood($l) | map(f) | median;
def client($l): map(select(.tool == "stun-client" and .label == $l)) | .[0];
def med($l; $mode; f): pick($l; $mode) | map(f) | median;
def ratio($a; $b): if $a == null or $b == null or $b == 0 then null else $a / $b end;
def met($ok): if $ok == null then "-" elif $ok then "yes" else "NO" end;
def row($fig; $o; $c; $x; $ratio; $p; $target; $ok):
  [$fig, ($o | fmt($p)), ($c | fmt($p)), ($x | fmt($p)), ($ratio | fmt(3)), $target, met($ok)] | join("\t");
def us_per_answer: if .server_cpu == null or .answers_per_s == 0 then null else .server_cpu * 1e6 / .answers_per_s end;

. as $all
| ["figure", "ours", "coturn", "reflector", "ratio", "target", "met"] | join("\t"),
  ( [$all | med("ours"; "max"; .answers_per_s), med("coturn"; "max"; .answers_per_s),
            med("reflector"; "max"; .answers_per_s)] as [$o, $c, $x]
    | row("Binding answers/s, one server core (max)"; $o; $c; $x; ratio($o; $c); 0; ">= 3x coturn";
          if $o == null or $c == null then null else $o >= 3 * $c end) ),
  ( [$all | med("ours"; "max"; us_per_answer), med("coturn"; "max"; us_per_answer),
            med("reflector"; "max"; us_per_answer)] as [$o, $c, $x]
    | row("server CPU us per answer (max)"; $o; $c; $x; ratio($o; $c); 2; "reported"; null) ),
  ( [$all | med("ours"; "max"; .loss_pct), med("coturn"; "max"; .loss_pct), med("reflector"; "max"; .loss_pct)]
    as [$o, $c, $x]
    | row("loss % (max)"; $o; $c; $x; null; 3; "reported"; null) ),
  ( ($all | map(select(.mode == "paced")) | .[0].rate // "-") as $rate
    | (["p50_us", "p50"], ["p99_us", "p99"]) | . as [$k, $kn]
    | [$all | med("ours"; "paced"; .latency[$k]), med("coturn"; "paced"; .latency[$k]),
              med("reflector"; "paced"; .latency[$k])] as [$o, $c, $x]
    | row("latency \($kn) us at \($rate)/s (from the schedule)"; $o; $c; $x; ratio($o; $c); 1; "reported"; null) ),
  ( [$all | med("ours"; "paced"; .loss_pct), med("coturn"; "paced"; .loss_pct), med("reflector"; "paced"; .loss_pct)]
    as [$o, $c, $x]
    | row("loss % (paced)"; $o; $c; $x; null; 3; "0"; if $o == null then null else $o == 0 end) ),
  ( [$all | med("ours"; "max"; .bench_cpu), med("coturn"; "max"; .bench_cpu), med("reflector"; "max"; .bench_cpu)]
    as [$o, $c, $x]
    | row("load generator CPU busy (max), in CPUs"; $o; $c; $x; null; 2; "< 1: else the generator limits"; null) ),
  ( [$all | med("ours"; "max"; .server_cpu), med("coturn"; "max"; .server_cpu), med("reflector"; "max"; .server_cpu)]
    as [$o, $c, $x]
    | row("server CPU busy (max), in CPUs"; $o; $c; $x; null; 2; "1: the server limits"; null) ),
  ( [$all | med("ours-2t"; "max"; .answers_per_s), med("coturn"; "max"; .answers_per_s)] as [$o, $c]
    | select($o != null)
    | row("Binding answers/s, ours --threads 2 (both cores, with the generator)"; $o; $c; null; ratio($o; $c); 0;
          ">= 3x coturn (1 core)"; $o >= 3 * $c) ),
  ( [$all | med("ours-2t"; "max"; .bench_cpu)] as [$o]
    | select($o != null)
    | row("load generator CPU busy, ours --threads 2, in CPUs"; $o; null; null; null; 2; "reported"; null) ),
  ( ["quiet", "flood"][] as $s
    | (["p50_us", "p50"], ["p99_us", "p99"]) | . as [$k, $kn]
    | [$all | fmed("ours"; .garbage[$s].latency[$k]), fmed("coturn"; .garbage[$s].latency[$k])] as [$o, $c]
    | select($o != null or $c != null)
    | row("latency \($kn) us at 20000/s, \(if $s == "quiet" then "quiet slots" else "under \($garbage)/s garbage" end)";
          $o; $c; null; ratio($o; $c); 1; "reported"; null) ),
  ( ["quiet", "flood"][] as $s
    | [$all | fmed("ours"; .garbage[$s].loss_pct), fmed("coturn"; .garbage[$s].loss_pct)] as [$o, $c]
    | select($o != null or $c != null)
    | row("loss % at 20000/s, \(if $s == "quiet" then "quiet slots" else "under garbage" end)"; $o; $c; null; null; 3;
          "0"; if $o == null then null else $o == 0 end) ),
  ( ["quiet", "flood"][] as $s
    | [$all | fmed("ours"; .garbage[$s].send_lag_p99_us), fmed("coturn"; .garbage[$s].send_lag_p99_us)] as [$o, $c]
    | select($o != null or $c != null)
    | row("generator send lag p99 us, \($s) slots"; $o; $c; null; null; 1; "small beside latency"; null) ),
  ( [$all | fmed("ours"; .garbage.achieved_per_s), fmed("coturn"; .garbage.achieved_per_s)] as [$o, $c]
    | select($o != null or $c != null)
    | row("garbage datagrams/s sent in flood slots"; $o; $c; null; null; 0; "\($garbage)/s asked"; null) ),
  ( ($all | flood("ours") | map(.server_counters | select(. != null))) as $sc
    | select($sc | length > 0)
    | ($sc | map(.dropped | to_entries | map(.value) | add) | median) as $d
    | ($sc | map(.errors) | median) as $e
    | ($sc[0].dropped | to_entries | map(select(.value > 0) | "\(.key) \(.value)") | join(", ")) as $why
    | row("our server: garbage dropped / 420 answers per run"; $d; null; null; null; 0;
          "\($e | fmt(0)) 420s; round 1: \($why)"; null) ),
  ( [$all | client("client-3"), client("client-1")] as [$c3, $c1]
    | select($c3 != null or $c1 != null)
    | ( row("STUN client: UDP bytes per discovery, 3 servers (1 server)"; $c3.bytes.per_discovery;
            $c1.bytes.per_discovery; null; null; 0; "~1 KB (seed); IP+UDP headers: \($c3.bytes.per_discovery_wire | fmt(0))";
            null),
        row("STUN client: RSS KiB of the 1st discovery, 3 servers (1)"; $c3.memory.rss_first_delta_kib;
            $c1.memory.rss_first_delta_kib; null; null; 0; "< 1 MB (1024)";
            if $c3 == null then null else $c3.memory.rss_first_delta_kib < 1024 end),
        row("STUN client: heap bytes kept after the 1st discovery, 3 (1)"; $c3.memory.heap_first_delta;
            $c1.memory.heap_first_delta; null; null; 0; "reported"; null),
        row("peak RSS KiB: atmosphere network --json, 3 servers (1)"; $c3.memory.process_network_maxrss_kib;
            $c1.memory.process_network_maxrss_kib; null; null; 0; "reported"; null),
        row("peak RSS KiB: atmosphere --version (libc, BoringSSL, binary)"; $c3.memory.process_version_maxrss_kib;
            $c1.memory.process_version_maxrss_kib; null; null; 0; "baseline"; null),
        ( ($c3.memory.process_network_maxrss_kib - $c3.memory.process_version_maxrss_kib) as $d
          | row("peak RSS KiB: network minus --version, 3 servers"; $d; null; null; null; 0; "< 1 MB (1024)"; $d < 1024) ) ) )
