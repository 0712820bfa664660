#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A soak of `serve`: reviews without pause on kept-alive connections, the config rewritten
every 5 s (every fourth rewrite invalid, which must keep the last good one), the serving
certificate rotated every ROTATE seconds, for SECS seconds. Asserts 0 review errors, every
good config generation and every rotation taken, and flat RSS, descriptors and threads
(the second half against the first).

Usage: python3 tests/https/soak.py BUILD_DIR SECS
Prints figures, `ok`/`FAIL` lines and `N passed, N failed` last.
"""
import http.client
import json
import os
import shutil
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_https as h  # noqa: E402

expect = h.expect


def proc_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return {"rss_kb": int(out["VmRSS"].split()[0]), "threads": int(out["Threads"]),
            "fds": len(os.listdir(f"/proc/{pid}/fd"))}


class Reviewer(threading.Thread):
    """Reviews on one kept-alive connection (reopened only when the server closes it)."""

    def __init__(self, port, idx, stop):
        super().__init__(daemon=True)
        self.port, self.idx, self.stop = port, idx, stop
        self.done = self.errors = self.reconnects = 0
        self.last_error = ""

    def run(self):
        conn = None
        n = 0
        allowed = json.dumps(h.ingress_review("u", "tenant1-gateway",
                                              "api.tenant1.aigw.example.com"))
        denied = json.dumps(h.ingress_review("u", "tenant2-gateway",
                                             "api.tenant1.aigw.example.com"))
        while not self.stop.is_set():
            n += 1
            want_allowed = n % 3 != 0
            body = (allowed if want_allowed else denied).replace(
                '"uid": "u"', f'"uid": "soak-{self.idx}-{n}"')
            try:
                if conn is None:
                    conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=h.CTX,
                                                       timeout=h.WAIT)
                conn.request("POST", "/validate", body, h.JSON_HDR)
                r = conn.getresponse()
                data = r.read()
                ok = r.status == 200 and (b'"allowed":true' in data) == want_allowed and \
                    f"soak-{self.idx}-{n}".encode() in data
                if not ok:
                    self.errors += 1
                    self.last_error = f"{r.status} {data[:160]!r}"
                self.done += 1
                if r.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as e:
                # The server closing a kept-alive connection between requests (its idle
                # timeout) is not an error; a request that got no answer is.
                if isinstance(e, http.client.RemoteDisconnected) and n > 1:
                    self.reconnects += 1
                else:
                    self.errors += 1
                    self.last_error = f"{type(e).__name__}: {e}"
                if conn is not None:
                    conn.close()
                conn = None


def main():
    if len(sys.argv) != 3:
        print("usage: soak.py BUILD_DIR SECS", file=sys.stderr)
        return 2
    h.BIN = os.path.join(sys.argv[1], "tenantguard")
    secs = int(sys.argv[2])
    rotate = 30 if secs >= 300 else 10
    # ASan's quarantine would grow RSS by design; a small one keeps "flat" meaningful.
    os.environ["ASAN_OPTIONS"] = os.environ.get("ASAN_OPTIONS", "detect_leaks=1") + \
        ":quarantine_size_mb=16"
    with tempfile.TemporaryDirectory(prefix="tg-soak-") as tmp:
        certs_dir = os.path.join(tmp, "c0")
        r = h.run([h.BIN, "certs", "--out", certs_dir])
        if r.returncode != 0:
            h.report("tenantguard certs", False, r.stderr.decode()[-300:])
            print(f"{h.passed} passed, {h.failed} failed")
            return 1
        h.CA = os.path.join(certs_dir, "ca.crt")
        h.CTX = h.client_ctx()
        live = {"crt": os.path.join(tmp, "tls.crt"), "key": os.path.join(tmp, "tls.key")}
        shutil.copy(os.path.join(certs_dir, "tls.crt"), live["crt"])
        shutil.copy(os.path.join(certs_dir, "tls.key"), live["key"])
        cfg = os.path.join(tmp, "config.yaml")
        h.write(cfg, h.config_yaml([("tenant1", "tenant1.example.com")]))
        srv = h.Server(tmp, "soak", live, ["--config", cfg])
        stop = threading.Event()
        workers = [Reviewer(srv.port, i, stop) for i in range(2)]
        try:
            for w in workers:
                w.start()
            start = time.time()
            gens_written = bad_written = rotations = 0
            samples = []
            next_cfg, next_rot, next_sample = start + 5, start + rotate, start + secs / 4
            while time.time() - start < secs:
                now = time.time()
                if now >= next_cfg:
                    next_cfg += 5
                    if (gens_written + bad_written) % 4 == 3:
                        h.write(cfg + ".new", "tenants: [this is: not a config\n")
                        bad_written += 1
                    else:
                        extra = [(f"t{gens_written}", f"t{gens_written}.example.org")]
                        h.write(cfg + ".new", h.config_yaml(
                            [("tenant1", "tenant1.example.com")] + extra))
                        gens_written += 1
                    os.replace(cfg + ".new", cfg)
                if now >= next_rot:
                    next_rot += rotate
                    d = os.path.join(tmp, f"c{rotations + 1}")
                    os.makedirs(d)
                    for n in ("ca.crt", "ca.key"):
                        shutil.copy(os.path.join(certs_dir, n), d)
                    r = h.run([h.BIN, "certs", "--out", d])
                    expect(r.returncode == 0, r.stderr.decode()[-300:])
                    h.replace_file(os.path.join(d, "tls.key"), live["key"])
                    h.replace_file(os.path.join(d, "tls.crt"), live["crt"])
                    rotations += 1
                if now >= next_sample:
                    next_sample += secs / 4
                    samples.append(proc_status(srv.proc.pid))
                time.sleep(0.2)
            time.sleep(2)   # the last rewrite and rotation are picked up within a second
            m = h.metrics(srv.port)
        finally:
            stop.set()
            for w in workers:
                w.join()
        samples.append(proc_status(srv.proc.pid))
        done = sum(w.done for w in workers)
        errors = sum(w.errors for w in workers)
        print(f"  soak: {secs} s, {done} reviews ({done / secs:.0f}/s), {errors} errors, "
              f"{sum(w.reconnects for w in workers)} idle reconnects; config generations "
              f"{m['tenantguard_config_generation']:.0f} (1 + {gens_written} written, "
              f"{bad_written} invalid refused: {m['tenantguard_config_reload_failures_total']:.0f}); "
              f"TLS rotations {m['tenantguard_tls_reloads_total']:.0f}/{rotations}")
        for s in samples:
            print(f"    rss {s['rss_kb']} kB, fds {s['fds']}, threads {s['threads']}")

        def no_errors():
            expect(errors == 0, f"{errors} errors, the last: "
                   f"{[w.last_error for w in workers if w.last_error]}")
            expect(done > 0, "no reviews")

        def generations():
            expect(m["tenantguard_config_generation"] == 1 + gens_written,
                   f"generation {m['tenantguard_config_generation']}, {gens_written} written")
            expect(m["tenantguard_config_reload_failures_total"] == bad_written,
                   f"{m['tenantguard_config_reload_failures_total']} failures, "
                   f"{bad_written} invalid written")

        def rotated():
            expect(m["tenantguard_tls_reloads_total"] == rotations,
                   f"{m['tenantguard_tls_reloads_total']} reloads for {rotations} rotations")

        def flat():
            first, last = samples[0], samples[-1]
            expect(last["fds"] <= first["fds"] + 2, f"fds {first['fds']} -> {last['fds']}")
            expect(last["threads"] == first["threads"],
                   f"threads {first['threads']} -> {last['threads']}")
            grew = last["rss_kb"] - first["rss_kb"]
            expect(grew <= max(8192, first["rss_kb"] // 10),
                   f"RSS grew {grew} kB ({first['rss_kb']} -> {last['rss_kb']} kB)")

        h.check("soak: every review answered as expected", no_errors)
        h.check("soak: every good config taken, every invalid one refused", generations)
        h.check("soak: every certificate rotation taken", rotated)
        h.check("soak: RSS, descriptors and threads flat", flat)
        srv.stop()
    print(f"{h.passed} passed, {h.failed} failed")
    return 1 if h.failed else 0


if __name__ == "__main__":
    sys.exit(main())
