# SPDX-License-Identifier: Apache-2.0
"""Helpers of bench/bench_peer.sh (tenantguard against OPA):

  peer.py gen N DIR          DIR/state.json (a v1 List of N Ingresses, one first-come host
                             each, for `tenantguard serve --state`), DIR/data.json (the same
                             claims as data.tg for bench/peer/tenantguard.rego), and the
                             reviews DIR/allow.json (tenant1's own system host: allowed)
                             and DIR/collide.json (tenant1 asking for a host of the state:
                             denied [host-collision], allowed when N is 0)
  peer.py start OUT URL CA PROBE WANT -- CMD...
                             starts CMD (its stdout/stderr to OUT.log), writes OUT.pid,
                             polls POST URL with PROBE every 5 ms until the verdict is WANT
                             (allow|deny), and writes OUT.ms: milliseconds from exec to that
                             first correct verdict. The process is left running.
  peer.py verdict URL CA REVIEW
                             prints allow or deny[:rule] for one review (exit 1 on error)
"""
import json, os, ssl, subprocess, sys, time, urllib.parse, http.client

NS = 100   # the state's namespaces team-0..; none is a tenant's


def claim_host(i):
    """The host layout of bench_review.c: 50 hosts a parent, 1000 a registrable domain."""
    return "svc%d.app%d.domain%d.com" % (i, i // 50, i // 1000)


def ingress(name, ns, hosts):
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"ingressClassName": "higress",
                     "rules": [{"host": h, "http": {"paths": [{"path": "/", "pathType": "Prefix",
                                "backend": {"service": {"name": "app", "port": {"number": 80}}}}]}}
                               for h in hosts]}}


def review(uid, name, host, tls):
    obj = ingress(name, "tenant1-gateway", [host])
    obj["metadata"]["annotations"] = {"higress.io/destination": "api.tenant1-gateway.svc.cluster.local:80"}
    obj["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] = "api"
    if tls:
        obj["spec"]["tls"] = [{"hosts": [host], "secretName": name + "-tls"}]
    gvk = {"group": "networking.k8s.io", "version": "v1", "kind": "Ingress"}
    gvr = {"group": "networking.k8s.io", "version": "v1", "resource": "ingresses"}
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": uid, "kind": gvk, "resource": gvr, "requestKind": gvk,
                        "requestResource": gvr, "name": name, "namespace": "tenant1-gateway",
                        "operation": "CREATE",
                        "userInfo": {"username": "alice", "uid": "1001",
                                     "groups": ["tenant1-admins", "system:authenticated"]},
                        "object": obj, "oldObject": None, "dryRun": False,
                        "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}}}


def gen(n, out):
    items = [ingress("ing-%d" % i, "team-%d" % (i % NS), [claim_host(i)]) for i in range(n)]
    with open(os.path.join(out, "state.json"), "w") as f:
        json.dump({"apiVersion": "v1", "kind": "List", "items": items}, f, separators=(",", ":"))
    del items
    data = {"tg": {"namespaces": {"tenant1-gateway": "tenant1", "tenant2-gateway": "tenant2"},
                   "reserved": {"customer.com": "tenant1", "client.com": "tenant2"},
                   "claims": {claim_host(i): "namespace/team-%d" % (i % NS) for i in range(n)}}}
    with open(os.path.join(out, "data.json"), "w") as f:
        json.dump(data, f, separators=(",", ":"))
    for fname, body in (("allow.json", review("705ab4f5-6393-11e8-b7cc-42010a800002",
                                               "tenant1-api-ingress",
                                               "api.tenant1.aigw.example.com", True)),
                        ("collide.json", review("705ab4f5-6393-11e8-b7cc-42010a800003",
                                                "tenant1-newco", claim_host(n // 2), False))):
        with open(os.path.join(out, fname), "w") as f:
            json.dump(body, f, separators=(",", ":"))


def post(url, ctx, body, timeout=10):
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=timeout)
    try:
        c.request("POST", u.path or "/", body, {"Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        if r.status != 200:
            raise OSError("HTTP %d: %s" % (r.status, data[:200]))
        return json.loads(data)
    finally:
        c.close()


def verdict_of(doc):
    resp = doc["response"]
    if resp["allowed"]:
        return "allow"
    msg = resp.get("status", {}).get("message", "")
    rule = msg[1:msg.index("]")] if msg.startswith("[") and "]" in msg else "?"
    return "deny:" + rule


def context(ca):
    return ssl.create_default_context(cafile=ca)


def start(out, url, ca, probe, want, cmd):
    body = open(probe, "rb").read()
    ctx = context(ca)
    log = open(out + ".log", "wb")
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    with open(out + ".pid", "w") as f:
        f.write("%d\n" % p.pid)
    last = ""
    while time.monotonic() - t0 < 120:
        if p.poll() is not None:
            sys.exit("exited with %d during start-up" % p.returncode)
        try:
            v = verdict_of(post(url, ctx, body, timeout=30))
            if v.split(":")[0] == want:
                ms = (time.monotonic() - t0) * 1000
                with open(out + ".ms", "w") as f:
                    f.write("%.0f\n" % ms)
                os._exit(0)   # leave the server running: the caller stops it by pid
            last = "verdict " + v
        except (OSError, ValueError, KeyError, ssl.SSLError) as e:
            last = str(e)
        time.sleep(0.005)
    sys.exit("no %s verdict within 120 s (last: %s)" % (want, last))


def main():
    if sys.argv[1] == "gen":
        gen(int(sys.argv[2]), sys.argv[3])
    elif sys.argv[1] == "start":
        a = sys.argv[2:]
        sep = a.index("--")
        start(a[0], a[1], a[2], a[3], a[4], a[sep + 1:])
    elif sys.argv[1] == "verdict":
        try:
            print(verdict_of(post(sys.argv[2], context(sys.argv[3]),
                                  open(sys.argv[4], "rb").read())))
        except (OSError, ValueError, KeyError) as e:
            sys.exit("verdict: %s" % e)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
