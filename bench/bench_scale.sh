#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# bench_scale.sh BUILD_DIR: live cluster state at scale (issue 5, item 6), against the real
# kube-apiserver of tests/e2e (built and cached by tests/e2e/build.sh; brought up and torn down
# here). Run by `make bench` with the non-sanitizer build.
#
#   - load: BENCH_SCALE_NS namespaces team-0.. (`kubectl create -f`) and BENCH_SCALE_INGRESSES
#     Ingresses of 3 hosts each (s<i>-<j>.app<i>.domain<i%500>.com), POSTed straight to the
#     apiserver by BENCH_SCALE_WRITERS processes on keep-alive connections (kubectl create of
#     Lists made ~27 objects/s here: 10k took 368 s, 100k would take an hour);
#   - the yardstick: `kubectl get ingresses -A -o json`, timed;
#   - cold start: `tenantguard serve --kubeconfig` (admin), time from exec to /readyz 200,
#     polled every 20 ms, and to the first correct verdict (a loaded host from tenant1: denied
#     [host-collision]); the claim count from /metrics; RSS, and per 1k Ingresses;
#   - review latency: N reviews of a tenant1 Ingress claiming one host (half collide with a
#     loaded host → denied [host-collision], half are free → allowed; every decision is
#     checked), paced over ~10 s on one TLS keep-alive connection, once with the watch idle and
#     once while a bounded writer (2,000 creates/patches over ~10 s, its own keep-alive
#     connection with the admin token) keeps the Ingress watch busy; p50/p99 and their ratio.
# Everything is on loopback and bounded in time and count; no process is left behind.
#
# Knobs (environment): BENCH_SCALE_INGRESSES (10000; the issue's figure is 100000),
# BENCH_SCALE_NS (100), BENCH_SCALE_WRITERS (8), BENCH_SCALE_REVIEWS (2000),
# BENCH_SCALE_WRITES (2000), BENCH_SCALE_SECS (10).
set -uo pipefail

BUILD_DIR=$(cd "${1:?usage: bench/bench_scale.sh BUILD_DIR}" && pwd)
BIN=$BUILD_DIR/tenantguard
HERE=$(cd "$(dirname "$0")" && pwd)
e2e=$HERE/../tests/e2e
NING=${BENCH_SCALE_INGRESSES:-10000}
NNS=${BENCH_SCALE_NS:-100}
NREV=${BENCH_SCALE_REVIEWS:-2000}
NWRITES=${BENCH_SCALE_WRITES:-2000}
SECS=${BENCH_SCALE_SECS:-10}
NWRITERS=${BENCH_SCALE_WRITERS:-8}

die() { echo "bench_scale: $*" >&2; exit 1; }
[ -x "$BIN" ] || die "$BIN not built (make bench builds it)"
for tool in curl python3; do command -v "$tool" >/dev/null 2>&1 || die "$tool not found"; done
ms_now() { echo $(( $(date +%s%N) / 1000000 )); }
T_BEGIN=$(ms_now)

. "$e2e/lib.sh"
e2e_cluster_up scale   # its EXIT trap stops every pid in $TENANTGUARD_CLUSTER_PIDS, then the cluster
work=$TENANTGUARD_CLUSTER_DIR/scale; mkdir -p "$work"
TG_PID="" CHURN_PID=""
# record "pid starttime name" so that cluster.sh down stops it, and only if it is still ours
own() { echo "$1 $(awk '{print $22}' "/proc/$1/stat" 2>/dev/null) $2" >>"$TENANTGUARD_CLUSTER_PIDS"; }
fail() {   # like die, with the tail of tenantguard's log
	[ -s "$work/tenantguard.log" ] && { echo "--- tenantguard.log (tail)" >&2; tail -n 20 "$work/tenantguard.log" >&2; }
	die "$*"
}

APISERVER=$TENANTGUARD_APISERVER
TOKEN=$(awk '$1 == "token:" { print $2; exit }' "$KUBECONFIG_ADMIN")
[ -n "$TOKEN" ] || die "no token in $KUBECONFIG_ADMIN"

# ---- the python side: list generation, the writer, the review client ------------------------
cat >"$work/scale.py" <<'PY'
import http.client, json, os, ssl, sys, time, urllib.parse

def ingress(name, ns, hosts):
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"rules": [{"host": h, "http": {"paths": [{"path": "/", "pathType": "Prefix",
                     "backend": {"service": {"name": "app", "port": {"number": 80}}}}]}}
                     for h in hosts]}}

def loaded_host(i, j):
    return "s%d-%d.app%d.domain%d.com" % (i, j, i, i % 500)

def gen(outdir, nns):
    nsl = {"apiVersion": "v1", "kind": "List",
           "items": [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-%d" % k}}
                     for k in range(nns)]}
    json.dump(nsl, open(os.path.join(outdir, "namespaces.json"), "w"))

def conn(url, cafile, timeout=10):
    u = urllib.parse.urlsplit(url)
    ctx = ssl.create_default_context(cafile=cafile)
    return http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=timeout)

def load(server, cafile, token, n, nns, writers, out):
    """Creates ing-0..n-1 with `writers` processes, each POSTing every writers-th one on its
    own keep-alive connection; a 429/5xx is retried (up to 20 times, backing off), anything
    else is an error. Writes how many were created."""
    hdr = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
    pids = []
    for w in range(writers):
        pid = os.fork()
        if pid:
            pids.append(pid)
            continue
        code = 0
        try:
            c, made = conn(server, cafile, 60), 0
            for i in range(w, n, writers):
                ns = "team-%d" % (i % nns)
                body = json.dumps(ingress("ing-%d" % i, ns, [loaded_host(i, j) for j in range(3)]))
                for attempt in range(20):
                    try:
                        c.request("POST", "/apis/networking.k8s.io/v1/namespaces/%s/ingresses" % ns,
                                  body, hdr)
                        r = c.getresponse(); data = r.read()
                    except (OSError, http.client.HTTPException):
                        c.close(); c = conn(server, cafile, 60); time.sleep(0.1 * attempt); continue
                    if r.status == 201 or (r.status == 409 and attempt > 0):
                        made += 1; break
                    if r.status != 429 and r.status < 500:
                        sys.exit("ing-%d: HTTP %d %s" % (i, r.status, data[:200]))
                    time.sleep(0.1 * (attempt + 1))
                else:
                    sys.exit("ing-%d: still refused after 20 tries" % i)
            open("%s.%d" % (out, w), "w").write("%d\n" % made)
        except SystemExit as e:
            sys.stderr.write("%s\n" % e); code = 1
        os._exit(code)
    failed = sum(1 for p in pids if os.waitpid(p, 0)[1] != 0)
    total = sum(int(open("%s.%d" % (out, w)).read()) for w in range(writers)
                if os.path.exists("%s.%d" % (out, w)))
    open(out, "w").write("%d\n" % total)
    sys.exit(1 if failed else 0)

def churn(server, cafile, token, nns, nwrites, secs, out):
    """Bounded writer: nwrites/2 creates of churn-k, then as many merge-patches changing their
    host, paced evenly over secs (never longer than 3*secs). Hosts are disjoint from the ones
    the reviews ask for, so decisions stay deterministic."""
    c = conn(server, cafile)
    hdr = {"Authorization": "Bearer " + token}
    ncreate = nwrites // 2
    t0 = time.monotonic(); done = errors = 0; lat = []
    for k in range(nwrites):
        target = t0 + k * secs / nwrites
        now = time.monotonic()
        if now - t0 > 3 * secs:
            break
        if target > now:
            time.sleep(target - now)
        i = k % ncreate; ns = "team-%d" % (i % nns)
        path = "/apis/networking.k8s.io/v1/namespaces/%s/ingresses" % ns
        if k < ncreate:
            body = json.dumps(ingress("churn-%d" % i, ns, ["c%d.churn.example.net" % i]))
            c.request("POST", path, body, dict(hdr, **{"Content-Type": "application/json"}))
        else:
            body = json.dumps({"spec": {"rules": [{"host": "c%d-b.churn.example.net" % i,
                   "http": {"paths": [{"path": "/", "pathType": "Prefix",
                   "backend": {"service": {"name": "app", "port": {"number": 80}}}}]}}]}})
            c.request("PATCH", path + "/churn-%d" % i, body,
                      dict(hdr, **{"Content-Type": "application/merge-patch+json"}))
        r = c.getresponse(); r.read()
        lat.append((time.monotonic() - now) * 1000.0)
        done += 1
        if r.status >= 300:
            errors += 1
    el = time.monotonic() - t0
    lat.sort()
    pct = lambda p: round(lat[min(len(lat) - 1, int(p * len(lat)))], 2) if lat else 0
    json.dump({"writes": done, "errors": errors, "secs": round(el, 2),
               "creates": min(done, ncreate), "p50_ms": pct(0.50), "p99_ms": pct(0.99)},
              open(out, "w"))

def hist_quantiles(before, after, out):
    """p50/p99 (ms) of each tenantguard webhook from two scrapes of the apiserver's
    apiserver_admission_webhook_admission_duration_seconds: the difference of the bucket
    counts (all operations and verdicts together), interpolated within a bucket as
    Prometheus' histogram_quantile does."""
    import re
    def buckets(path):
        b = {}
        for line in open(path):
            if not line.startswith("apiserver_admission_webhook_admission_duration_seconds_bucket{"):
                continue
            labels = dict(re.findall(r'(\w+)="([^"]*)"', line[line.index("{"):line.index("}")]))
            if not labels.get("name", "").endswith(".tenantguard.io"):
                continue
            le = float("inf") if labels["le"] == "+Inf" else float(labels["le"])
            key = (labels["name"], le)
            b[key] = b.get(key, 0) + float(line.split()[-1])
        return b
    b0, b1 = buckets(before), buckets(after)
    res = {}
    for name in sorted({k[0] for k in b1}):
        les = sorted(le for (n, le) in b1 if n == name)
        cum = [(le, b1[(name, le)] - b0.get((name, le), 0)) for le in les]
        total = cum[-1][1]
        def q(p):
            if total <= 0:
                return float("nan")
            rank, lo, prev = p * total, 0.0, 0.0
            for le, c in cum:
                if c >= rank:
                    if le == float("inf"):
                        return lo * 1000
                    return (lo + (le - lo) * (rank - prev) / max(c - prev, 1e-9)) * 1000
                lo, prev = le, c
            return lo * 1000
        res[name.split(".")[0]] = {"n": int(total), "p50_ms": round(q(0.5), 2),
                                   "p99_ms": round(q(0.99), 2)}
    json.dump(res, open(out, "w"))

def review_body(uid, host):
    obj = ingress("bench", "tenant1-gateway", [host])
    obj["spec"]["ingressClassName"] = "higress"   # the tenant class (what /mutate sets)
    return json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {"uid": uid,
            "kind": {"group": "networking.k8s.io", "version": "v1", "kind": "Ingress"},
            "resource": {"group": "networking.k8s.io", "version": "v1", "resource": "ingresses"},
            "namespace": "tenant1-gateway", "name": "bench", "operation": "CREATE",
            "userInfo": {"username": "alice", "groups": ["tenant1"]},
            "object": obj}}).encode()

def reviews(url, cafile, tag, n, nloaded, secs, out):
    """n reviews on one keep-alive connection, paced over secs; even: a loaded host (denied
    [host-collision] by the live index alone), odd: a free host (allowed once its first-come
    claim is written to the apiserver, spread over 50 registrable domains). Writes p50/p99 in
    microseconds of each kind."""
    bodies = []
    for k in range(n):
        if k % 2 == 0:
            i = (k * 7919) % nloaded
            bodies.append((review_body("r%d" % k, loaded_host(i, k % 3)), False))
        else:
            bodies.append((review_body("r%d" % k, "free%d.%s%d.example" % (k, tag, k % 50)), True))
    c = conn(url, cafile)
    hdr = {"Content-Type": "application/json"}
    c.request("POST", "/validate", bodies[1][0], hdr); c.getresponse().read()   # handshake
    lat = {False: [], True: []}; wrong = 0; first_wrong = ""
    t0 = time.monotonic()
    for k, (body, want) in enumerate(bodies):
        target = t0 + k * secs / n
        now = time.monotonic()
        if target > now:
            time.sleep(target - now)
        s = time.perf_counter_ns()
        c.request("POST", "/validate", body, hdr)
        r = c.getresponse(); data = r.read()
        lat[want].append((time.perf_counter_ns() - s) / 1000.0)
        resp = json.loads(data).get("response", {}) if r.status == 200 else {}
        ok = r.status == 200 and resp.get("allowed") == want and \
            (want or "[host-collision]" in resp.get("status", {}).get("message", ""))
        if not ok:
            wrong += 1
            first_wrong = first_wrong or "%d %s" % (r.status, data[:300])
    res = {"n": n, "wrong": wrong, "first_wrong": first_wrong,
           "secs": round(time.monotonic() - t0, 2)}
    for want, kind in ((False, "index"), (True, "claim")):
        v = sorted(lat[want])
        pct = lambda p: v[min(len(v) - 1, int(p * len(v)))]
        res.update({kind + "_p50": round(pct(0.50)), kind + "_p99": round(pct(0.99)),
                    kind + "_max": round(v[-1])})
    json.dump(res, open(out, "w"))

if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "gen":
        gen(args[0], int(args[1]))
    elif cmd == "probe":
        sys.stdout.buffer.write(review_body("probe", loaded_host(int(args[0]), 0)))
    elif cmd == "load":
        load(args[0], args[1], os.environ["BENCH_TOKEN"], int(args[2]), int(args[3]),
             int(args[4]), args[5])
    elif cmd == "churn":
        churn(args[0], args[1], os.environ["BENCH_TOKEN"], int(args[2]), int(args[3]),
              float(args[4]), args[5])
    elif cmd == "hist":
        hist_quantiles(args[0], args[1], args[2])
    elif cmd == "reviews":
        reviews(args[0], args[1], args[2], int(args[3]), int(args[4]), float(args[5]), args[6])
PY
py() { python3 "$work/scale.py" "$@"; }
jget() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

# ---- load ---------------------------------------------------------------------------------
mkdir -p "$work/lists"
py gen "$work/lists" "$NNS" || die "generating the namespaces failed"
t0=$(ms_now)
admin create -f "$work/lists/namespaces.json" >/dev/null || die "creating the namespaces failed"
# first-come claims of the free hosts are written there before a review allows them
admin create namespace tenantguard-system >/dev/null || die "creating tenantguard-system failed"
BENCH_TOKEN=$TOKEN timeout -k 5 $((600 + NING / 20)) python3 "$work/scale.py" load "$APISERVER" \
	"$TENANTGUARD_CLUSTER_CA" "$NING" "$NNS" "$NWRITERS" "$work/load.out" 2>"$work/load.err" ||
	die "loading the Ingresses failed: $(tail -n 5 "$work/load.err")"
load_ms=$(( $(ms_now) - t0 ))
got=$(cat "$work/load.out")
[ "$got" = "$NING" ] || die "created $got Ingresses, wanted $NING"
echo "bench: scale load namespaces=$NNS ingresses=$NING hosts=$((NING * 3)) load_ms=$load_ms" \
	"rate_per_s=$((NING * 1000 / (load_ms > 0 ? load_ms : 1))) # POST, $NWRITERS writers on keep-alive connections"

# ---- the apiserver's own LIST of every Ingress, the yardstick of the cold start -----------
t0=$(ms_now)
admin get ingresses -A -o json >"$work/list.json" || die "kubectl get ingresses -A failed"
list_ms=$(( $(ms_now) - t0 ))
rm -f "$work/list.json"

# ---- cold start to ready ------------------------------------------------------------------
"$BIN" certs --out "$work/certs" >"$work/cabundle" 2>"$work/certs.log" || die "tenantguard certs: $(cat "$work/certs.log")"
CA=$work/certs/ca.crt
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL=https://127.0.0.1:$PORT
code() { curl -s --max-time 2 --cacert "$CA" -o /dev/null -w '%{http_code}' "$URL$1" 2>/dev/null; }
metric() { curl -s --max-time 5 --cacert "$CA" "$URL/metrics" | awk -v k="$1" '$1 == k { print $2 }'; }

t0=$(date +%s%N)
setsid "$BIN" serve --listen "127.0.0.1:$PORT" --tls-cert "$work/certs/tls.crt" \
	--tls-key "$work/certs/tls.key" --kubeconfig "$KUBECONFIG_ADMIN" \
	</dev/null >"$work/tenantguard.log" 2>&1 &
TG_PID=$!
own "$TG_PID" tenantguard
ready_ms="" verdict_ms=""
py probe $((NING / 2)) >"$work/probe.json"
while [ -z "$verdict_ms" ]; do
	if [ -z "$ready_ms" ] && [ "$(code /readyz)" = 200 ]; then ready_ms=$(( ($(date +%s%N) - t0) / 1000000 )); fi
	# the first correct verdict: a loaded host asked for by tenant1 is another owner's
	if [ -n "$ready_ms" ] && curl -s --max-time 5 --cacert "$CA" -H 'Content-Type: application/json' \
		--data-binary @"$work/probe.json" "$URL/validate" 2>/dev/null | grep -q '\[host-collision\]'; then
		verdict_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	fi
	kill -0 "$TG_PID" 2>/dev/null || fail "tenantguard exited during startup"
	[ $(( ($(date +%s%N) - t0) / 1000000 )) -lt $((120000 + NING * 5)) ] || fail "no correct verdict in time"
	[ -n "$verdict_ms" ] || sleep 0.02
done
claims=$(metric tenantguard_live_claims)
objs=$(metric 'tenantguard_live_objects{kind="Ingress"}')
[ "$objs" = "$NING" ] || fail "/metrics: $objs Ingresses after ready, wanted $NING"
rss_kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$TG_PID/status")
echo "bench: scale ingresses=$NING hosts=$((NING * 3)) cold_start_to_ready_ms=$ready_ms" \
	"cold_start_to_verdict_ms=$verdict_ms live_ingresses=$objs live_claims=$claims" \
	"# exec to /readyz 200, polled every 20 ms, and to the first [host-collision] verdict"
echo "bench: scale kubectl_list_ms=$list_ms cold_start_over_list=$(awk -v a="$verdict_ms" -v b="$list_ms" \
	'BEGIN { printf "%.2f", a / b }') budget=1.50 rss_mb=$((rss_kb / 1024))" \
	"rss_kb_per_1k_ingresses=$((rss_kb * 1000 / NING))" \
	"# kubectl get ingresses -A -o json against the same apiserver, just before"

# tenantguard is now the cluster's webhook (as manifests/webhooks.yaml ships it, by URL): the
# writer's creates and patches below go through it, and the apiserver's histogram says how
# long it waited for each of its two webhooks.
tg_register "127.0.0.1:$PORT" || fail "registering the webhooks failed: $(cat "$work/register.log")"
for _ in $(seq 100); do   # the apiserver's webhook informer has picked it up once it is called
	admin create --dry-run=server -f - -o name >/dev/null 2>&1 <<<'{"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"probe","namespace":"team-0"},"spec":{"rules":[{"host":"probe.churn.example.net"}]}}'
	grep -q '"name":"probe"' "$work/tenantguard.log" 2>/dev/null && break
	sleep 0.1
done

# ---- review latency: idle watch, then a busy one --------------------------------------------
# (the bound: at 100k Ingresses on a loaded machine the free hosts' durable claims, one
# ConfigMap write each, took the 2,000 reviews past SECS * 3 + 60)
result() {   # name file
	local f=$2 w
	w=$(jget "$f" wrong)
	[ "$w" = 0 ] || fail "$1: $w wrong decisions, first: $(jget "$f" first_wrong)"
	echo "index_p50_us=$(jget "$f" index_p50) index_p99_us=$(jget "$f" index_p99)" \
	    "claim_p50_us=$(jget "$f" claim_p50) claim_p99_us=$(jget "$f" claim_p99) n=$(jget "$f" n)"
}
timeout -k 5 $((SECS * 3 + 60 + NREV / 10)) python3 "$work/scale.py" reviews "$URL" "$CA" idle "$NREV" "$NING" "$SECS" "$work/idle.json" ||
	fail "review client (idle) failed"
idle=$(result review_idle "$work/idle.json") || exit 1

restarts0=$(metric 'tenantguard_watch_restarts_total{kind="Ingress"}')
admin get --raw /metrics >"$work/apiserver-metrics.0" || fail "reading the apiserver's /metrics failed"
BENCH_TOKEN=$TOKEN timeout -k 5 $((SECS * 3 + 30)) python3 "$work/scale.py" churn "$APISERVER" \
	"$TENANTGUARD_CLUSTER_CA" "$NNS" "$NWRITES" "$SECS" "$work/churn.json" >"$work/churn.log" 2>&1 &
CHURN_PID=$!
own "$CHURN_PID" churn
sleep 0.3   # the writer is under way
timeout -k 5 $((SECS * 3 + 60 + NREV / 10)) python3 "$work/scale.py" reviews "$URL" "$CA" busy "$NREV" "$NING" "$SECS" "$work/busy.json" ||
	fail "review client (busy) failed"
wait "$CHURN_PID" || fail "the writer failed: $(tail -n 5 "$work/churn.log")"
# the watch must have followed the writer: every create visible (timed from the writer's end,
# which is within a few ms of its last write; the first check is immediate)
t_end=$(ms_now)
# (every write now also passes tenantguard's two webhooks: on a loaded machine the writer may
# not get through all of them within its bound, so the creates it made are what must show)
want=$((NING + $(jget "$work/churn.json" creates)))
while [ "$(metric 'tenantguard_live_objects{kind="Ingress"}')" != "$want" ]; do
	[ $(( $(ms_now) - t_end )) -lt 10000 ] || fail "the watch did not catch up to $want Ingresses within 10 s"
	sleep 0.02
done
caught_ms=$(( $(ms_now) - t_end ))
admin get --raw /metrics >"$work/apiserver-metrics.1" || fail "reading the apiserver's /metrics failed"
py hist "$work/apiserver-metrics.0" "$work/apiserver-metrics.1" "$work/hist.json" ||
	fail "reading the admission histogram failed"
busy=$(result review_under_watch_load "$work/busy.json") || exit 1
writes=$(jget "$work/churn.json" writes) werr=$(jget "$work/churn.json" errors)
[ "$werr" = 0 ] && [ "$writes" -gt 0 ] || fail "the writer: $writes of $NWRITES writes, $werr errors"
restarts=$(( $(metric 'tenantguard_watch_restarts_total{kind="Ingress"}') - restarts0 ))

echo "bench: scale review_idle $idle # paced over ${SECS} s, one TLS keep-alive connection;" \
	"index: a collision the live index decides; claim: a free host, allowed after its durable claim"
echo "bench: scale review_under_watch_load $busy writes=$writes of=$NWRITES write_secs=$(jget "$work/churn.json" secs)" \
	"watch_caught_up_ms=$caught_ms watch_restarts=$restarts live_claims=$(metric tenantguard_live_claims)"
echo "bench: scale apiserver_webhook_latency $(python3 -c 'import json, sys
h = json.load(open(sys.argv[1]))
print(" ".join("%s_n=%d %s_p50_ms=%s %s_p99_ms=%s" % (k, v["n"], k, v["p50_ms"], k, v["p99_ms"])
               for k, v in sorted(h.items())))' "$work/hist.json")" \
	"writer_p50_ms=$(jget "$work/churn.json" p50_ms) writer_p99_ms=$(jget "$work/churn.json" p99_ms)" \
	"# the apiserver's apiserver_admission_webhook_admission_duration_seconds during the writes" \
	"(buckets 5, 25, 100 ms ..., interpolated); writer: each create/patch as its client saw it"
p() { sed -E "s/.*$1=([0-9]+).*/\1/" <<<"$2"; }
ratio() { awk -v a="$(p "$1" "$busy")" -v b="$(p "$1" "$idle")" 'BEGIN { printf "%.2f", a / b }'; }
echo "bench: scale ratio_busy_over_idle index_p50=$(ratio index_p50_us) index_p99=$(ratio index_p99_us)" \
	"claim_p50=$(ratio claim_p50_us) claim_p99=$(ratio claim_p99_us)" \
	"# 2 cores shared by etcd, kube-apiserver, the writer, the client and tenantguard"

# ---- stop: SIGTERM, exit 0 -------------------------------------------------------------------
kill -TERM "$TG_PID"
for _ in $(seq 100); do kill -0 "$TG_PID" 2>/dev/null || break; sleep 0.05; done
wait "$TG_PID"; rc=$?
[ "$rc" = 0 ] || fail "tenantguard exited $rc on SIGTERM"
echo "bench: scale total_secs=$(( ($(ms_now) - T_BEGIN) / 1000 ))"
