#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Seed corpora for the libFuzzer harnesses, from the table cases and configs.

Usage: python3 tests/fuzz/seed.py OUT_DIR
Writes OUT_DIR/<harness>/<n> files: review (AdmissionReview bodies, as run_cases fills
them in), config (tests/configs and the cases' inline configs), state (the cases' states and
reviewed objects, as JSON and YAML), host (host pairs), ndjson (the states as watch streams), tls (a generated
certificate and key, matching and not), kube (List pages and watch events).
"""
import base64
import glob
import json
import os
import subprocess
import sys
import tempfile

import yaml


def fill(req, uid):
    """The fields a case may leave out, as tests/tools/run_cases.c fills them."""
    obj = req.get("object") if isinstance(req.get("object"), dict) else req.get("oldObject")
    obj = obj if isinstance(obj, dict) else {}
    api, kind, meta = obj.get("apiVersion"), obj.get("kind"), obj.get("metadata") or {}
    req.setdefault("uid", uid)
    if "kind" not in req and isinstance(api, str) and isinstance(kind, str):
        g, _, v = api.rpartition("/")
        req["kind"] = {"group": g, "version": v, "kind": kind}
    req.setdefault("operation", "CREATE")
    if "name" in meta:
        req.setdefault("name", meta["name"])
    if "namespace" in meta:
        req.setdefault("namespace", meta["namespace"])
    req.setdefault("userInfo", {"username": "alice", "groups": ["system:authenticated"]})
    return req


def hosts_in(v, out):
    if isinstance(v, dict):
        for k, x in v.items():
            if k in ("host", "hostname") and isinstance(x, str):
                out.add(x)
            elif k in ("hosts", "hostnames", "customDomains") and isinstance(x, list):
                out.update(h for h in x if isinstance(h, str))
            else:
                hosts_in(x, out)
    elif isinstance(v, list):
        for x in v:
            hosts_in(x, out)


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


class Tls:
    """Real PEM for the cases' "$tls" specs (run_cases makes them at run time; a seed
    holding the spec itself is not a certificate): one pair per distinct spec, one CA for
    every chain. Validity is now to +30 days (openssl req cannot back-date): the harnesses
    check at the time they run."""

    def __init__(self, tmp):
        self.tmp, self.pairs, self.n = tmp, {}, 0
        self.ca_key, self.ca = (os.path.join(tmp, n) for n in ("ca.key", "ca.crt"))
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-nodes", "-keyout", self.ca_key, "-out", self.ca, "-subj", "/CN=fuzz-ca",
                "-days", "30")
        self.other = os.path.join(tmp, "other.key")
        openssl("genpkey", "-algorithm", "ed25519", "-out", self.other)

    def pair(self, spec):
        """(tls.crt, tls.key, ca.crt or None) for a "$tls" spec."""
        k = json.dumps(spec, sort_keys=True)
        if k not in self.pairs:
            self.n += 1
            key, crt = (os.path.join(self.tmp, f"{self.n}.{x}") for x in ("key", "crt"))
            dns = [d for d in spec.get("dns", []) if isinstance(d, str)] or ["a.example.com"]
            san = "subjectAltName=" + ",".join("DNS:" + d for d in dns)
            if spec.get("chain"):
                csr, ext = crt + ".csr", crt + ".ext"
                with open(ext, "w") as f:
                    f.write(san + "\n")
                openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=" + dns[0][:60])
                openssl("x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", self.ca_key,
                        "-CAcreateserial", "-days", "30", "-extfile", ext, "-out", crt)
            else:
                openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt,
                        "-subj", "/CN=" + dns[0][:60], "-addext", san, "-days", "30")
            c, kk, ca = (open(x, "rb").read() for x in (crt, key, self.ca))
            if spec.get("key") == "other":
                kk = open(self.other, "rb").read()
            if spec.get("chain") and not spec.get("leafOnly"):
                c += ca
            if spec.get("garbage") == "cert":
                c = b"not a certificate\n"
            if spec.get("garbage") == "key":
                kk = b"not a key\n"
            self.pairs[k] = (c, kk, ca if spec.get("chain") and spec.get("caCrt") else None)
        return self.pairs[k]

    def fill(self, v, out):
        """v with every "data": {"$tls": spec} made real; each new pair also lands in out."""
        if isinstance(v, dict):
            data = v.get("data")
            if isinstance(data, dict) and isinstance(data.get("$tls"), dict):
                n = len(self.pairs)
                c, k, ca = self.pair(data["$tls"])
                if len(self.pairs) > n:
                    out.append(len(c).to_bytes(2, "big") + c + k)
                new = {n: base64.b64encode(b).decode() for n, b in
                       (("tls.crt", c), ("tls.key", k), ("ca.crt", ca)) if b is not None}
                v = {**v, "data": {**{x: y for x, y in data.items() if x != "$tls"}, **new}}
            return {x: self.fill(y, out) for x, y in v.items()}
        if isinstance(v, list):
            return [self.fill(x, out) for x in v]
        return v


def main():
    out = sys.argv[1]
    seeds = {k: [] for k in ("review", "config", "state", "host", "ndjson", "tls", "kube")}
    hosts = set()
    kinds = {}
    tls_tmp = tempfile.TemporaryDirectory()
    tls = Tls(tls_tmp.name)
    for path in sorted(glob.glob("tests/configs/*.yaml")):
        with open(path, "rb") as f:
            seeds["config"].append(f.read())
    for path in sorted(glob.glob("tests/cases/**/*.json", recursive=True)):
        with open(path) as f:
            doc = json.load(f)
        shared = {k: doc[k] for k in ("config", "state") if k in doc}
        for i, case in enumerate(doc.get("cases", [doc])):
            case = tls.fill({**shared, **case}, seeds["tls"])
            if isinstance(case.get("review"), str):
                seeds["review"].append(case["review"].encode())
            elif "review" in case:
                seeds["review"].append(json.dumps(case["review"]).encode())
            elif isinstance(case.get("request"), dict):
                req = fill(dict(case["request"]), f"seed-{len(seeds['review'])}")
                seeds["review"].append(json.dumps({"apiVersion": "admission.k8s.io/v1",
                                                   "kind": "AdmissionReview",
                                                   "request": req}).encode())
            if isinstance(case.get("config"), dict):
                seeds["config"].append(json.dumps(case["config"]).encode())
            st = case.get("state")
            if isinstance(st, list) and st:
                seeds["state"].append(json.dumps({"apiVersion": "v1", "kind": "List",
                                                  "items": st}).encode())
                seeds["ndjson"].append(b"\x05" + b"".join(
                    json.dumps({"type": "ADDED", "object": o}).encode() + b"\n" for o in st))
                # fuzz_kube: first byte 7 = a WATCH stream, anything else a LIST page.
                seeds["kube"].append(b"\x00" + json.dumps({
                    "kind": "IngressList", "apiVersion": "v1",
                    "metadata": {"resourceVersion": "7"}, "items": st}).encode())
                seeds["kube"].append(b"\x07" + b"".join(json.dumps(
                    {"type": t, "object": {**o, "metadata": {**(o.get("metadata") or {}),
                                                             "resourceVersion": str(i + 2)}}}
                ).encode() + b"\n" for i, (t, o) in enumerate(zip(
                    ("ADDED", "MODIFIED", "DELETED") * len(st), st))) +
                    b'{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"99"}}}\n')
            # The reviewed objects as states too (up to 3 of each kind): the cases' states hold
            # no Secret, McpBridge or TLSRoute, which a --state file may carry.
            req = case.get("request") if isinstance(case.get("request"), dict) else {}
            obj = req.get("object")
            if isinstance(obj, dict) and isinstance(obj.get("kind"), str):
                key = (obj.get("apiVersion"), obj["kind"])
                if kinds.get(key, 0) < 3:
                    kinds[key] = kinds.get(key, 0) + 1
                    seeds["state"].append(json.dumps({"apiVersion": "v1", "kind": "List",
                                                      "items": [obj]}).encode())
            hosts_in(case, hosts)
    # Multi-document YAML, the other form a --state file takes (libyaml, not jansson).
    for st in list(seeds["state"])[::4]:
        items = json.loads(st)["items"]
        seeds["state"].append(yaml.safe_dump_all(items, explicit_start=True).encode())
    hl = sorted(hosts)
    for a, b in zip(hl, hl[1:] + hl[:1]):
        seeds["host"].append(f"{a}\n{b}".encode())
    # A pair with two names, the same certificate with a key of another type, and twice.
    c, k, _ = tls.pair({"dns": ["a.example.com", "*.b.example.com"]})
    o = open(tls.other, "rb").read()
    for cc, kk in ((c, k), (c, o), (c + c, k)):
        seeds["tls"].append(len(cc).to_bytes(2, "big") + cc + kk)
    tls_tmp.cleanup()
    for name, items in seeds.items():
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        for i, data in enumerate(items):
            with open(os.path.join(d, f"seed-{i:04d}"), "wb") as f:
                f.write(data)
    print(" ".join(f"{k}:{len(v)}" for k, v in seeds.items()))


if __name__ == "__main__":
    main()
