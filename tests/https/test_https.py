#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The HTTPS server end to end: routes, limits, TLS versions, client certificates, keep-alive,
metrics, reloads (config, state, TLS certificate) and a SIGTERM drain, against
`BUILD_DIR/tenantguard serve`.

Usage: python3 tests/https/test_https.py BUILD_DIR
Prints `ok NAME` or `FAIL NAME: why` per check and `N passed, N failed` last; exits 1 on failure.
"""
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import warnings

BODY_MAX = 4 * 1024 * 1024  # SERVER_DEFAULT_BODY_MAX
WAIT = 15  # seconds; generous because `make test` runs the server under ASan

passed = failed = 0


def report(name, ok, why=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok {name}")
    else:
        failed += 1
        print(f"FAIL {name}: {why}")
    sys.stdout.flush()


def check(name, fn):
    """Runs fn(); it returns None (pass) or a reason string (fail); exceptions fail too."""
    try:
        why = fn()
    except Exception as e:  # noqa: BLE001 - any exception is a failed check
        why = f"{type(e).__name__}: {e}"
    report(name, why is None, why)


def expect(cond, why):
    if not cond:
        raise AssertionError(why)


# ---- fixtures ----------------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One `tenantguard serve` on a free port, stderr kept in a log file. `ctx` (default CTX)
    is the client context the health check connects with. With `health` the probes and
    /metrics have a port of their own (--health-listen), health_port, where the health check
    goes (without a client certificate)."""

    def __init__(self, tmp, name, certs, extra=(), wait=True, ctx=None, health=False):
        self.name = name
        self.ctx = None if health else ctx
        self.port = free_port()
        self.health_port = free_port() if health else None
        if health:
            extra = ["--health-listen", f"127.0.0.1:{self.health_port}", *extra]
        self.logpath = os.path.join(tmp, name + ".log")
        self.log = open(self.logpath, "wb")
        self.proc = subprocess.Popen(
            [BIN, "serve", "--listen", f"127.0.0.1:{self.port}",
             "--tls-cert", certs["crt"], "--tls-key", certs["key"], *extra],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.log)
        if wait:
            try:
                self.wait_healthy()
            except BaseException:
                self.proc.kill()   # the caller never gets the object to stop it
                self.proc.wait()
                self.log.close()
                raise

    def wait_healthy(self):
        deadline = time.time() + WAIT
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited {self.proc.returncode}: {self.logtext()}")
            try:
                if get(self.health_port or self.port, "/healthz", self.ctx)[0] == 200:
                    return
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} not healthy after {WAIT}s: {self.logtext()}")

    def logtext(self, tail=2000):
        with open(self.logpath, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        return text if tail is None else text[-tail:]

    def stop(self):
        """Stops the server (SIGTERM, so ASan's leak check runs) and reports sanitizer output."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        text = self.logtext(tail=None)
        bad = [m for m in ("Sanitizer", "runtime error:") if m in text]
        report(f"{self.name} server: no sanitizer report", not bad, text[:1500])


def client_ctx(cert=None, key=None):
    ctx = ssl.create_default_context(cafile=CA)
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx


def request(port, method, path, body=None, headers=None, ctx=None):
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx or CTX, timeout=WAIT)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def get(port, path, ctx=None):
    return request(port, "GET", path, ctx=ctx)


JSON_HDR = {"Content-Type": "application/json"}


def post(port, path, doc, headers=None, ctx=None):
    body = doc if isinstance(doc, (bytes, str)) else json.dumps(doc)
    return request(port, "POST", path, body, headers or JSON_HDR, ctx)


def metrics(port, ctx=None):
    """The exposition text as {"name{labels}": float}."""
    status, _, body = get(port, "/metrics", ctx)
    expect(status == 200, f"/metrics answered {status}")
    out = {}
    for line in body.decode().splitlines():
        if line and not line.startswith("#"):
            key, _, val = line.rpartition(" ")
            out[key] = float(val)
    return out


def wait_for(fn, timeout):
    """Polls fn() until it returns a true value or the time is up; returns the last value."""
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v or time.time() >= deadline:
            return v
        time.sleep(0.1)


def tls_socket(port, ctx=None):
    raw = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    return (ctx or CTX).wrap_socket(raw, server_hostname="127.0.0.1")


def read_response(sock):
    r = http.client.HTTPResponse(sock, method="POST")
    r.begin()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()


def ingress_review(uid, ns, host, op="CREATE", user="alice"):
    obj = {
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "web", "namespace": ns},
        "spec": {"ingressClassName": "higress", "rules": [{"host": host, "http": {"paths": [{
            "path": "/", "pathType": "Prefix",
            "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]},
    }
    return {
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": "networking.k8s.io", "version": "v1", "kind": "Ingress"},
            "resource": {"group": "networking.k8s.io", "version": "v1", "resource": "ingresses"},
            "namespace": ns, "name": "web", "operation": op,
            "userInfo": {"username": user, "groups": ["system:authenticated"]},
            "object": obj, "oldObject": None, "dryRun": False,
        },
    }


GOOD = ingress_review("3f1c2d4e-0000-4000-8000-000000000001", "tenant1-gateway",
                      "api.tenant1.aigw.example.com")


def config_yaml(tenants):
    lines = ["systemDomain: aigw.example.com", "tenants:"]
    for name, dom in tenants:
        lines += [f"  - name: {name}", f"    customDomains: [\"{dom}\"]"]
    return "\n".join(lines) + "\n"


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def run(cmd):
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=60)


# ---- checks ------------------------------------------------------------------------------

def routes_checks(port):
    def healthz():
        s, h, b = get(port, "/healthz")
        expect(s == 200 and b.strip() == b"ok", f"{s} {b!r}")

    def head_healthz():
        s, _, b = request(port, "HEAD", "/healthz")
        expect(s == 200 and b == b"", f"{s} {b!r}")

    def readyz():
        s, _, b = get(port, "/readyz")
        expect(s == 200, f"{s} {b!r}")

    def metrics_route():
        s, h, b = get(port, "/metrics")
        expect(s == 200, f"status {s}")
        expect(h.get("content-type", "").startswith("text/plain"), h.get("content-type"))
        expect(b"tenantguard_config_generation 1" in b, "no generation 1 in /metrics")

    def not_found():
        s, h, b = get(port, "/nope")
        expect(s == 404, f"status {s}")
        expect(h.get("content-type") == "application/json", h.get("content-type"))
        expect("error" in json.loads(b), b)

    def validate_get():
        s, h, b = get(port, "/validate")
        expect(s == 405, f"status {s}")
        expect(h.get("allow") == "POST", f"Allow: {h.get('allow')}")
        expect(h.get("content-type") == "application/json", h.get("content-type"))

    def mutate_put():
        s, h, _ = request(port, "PUT", "/mutate", b"{}", JSON_HDR)
        expect(s == 405 and h.get("allow") == "POST", f"{s} Allow: {h.get('allow')}")

    def healthz_post():
        s, h, _ = post(port, "/healthz", {})
        expect(s == 405 and h.get("allow") == "GET, HEAD", f"{s} Allow: {h.get('allow')}")

    def wrong_type():
        s, h, b = post(port, "/validate", GOOD, {"Content-Type": "text/plain"})
        expect(s == 415, f"status {s}")
        expect(h.get("content-type") == "application/json", h.get("content-type"))

    def no_type():
        s, _, _ = request(port, "POST", "/validate", json.dumps(GOOD), {})
        expect(s == 415, f"status {s}")

    def type_with_charset():
        s, _, b = post(port, "/validate", GOOD, {"Content-Type": "Application/JSON; charset=utf-8"})
        expect(s == 200, f"status {s}: {b[:200]!r}")

    def bad_json():
        s, h, b = post(port, "/validate", b"{not json")
        expect(s == 400, f"status {s}")
        expect(h.get("content-type") == "application/json", h.get("content-type"))
        expect(json.loads(b).get("error"), f"no error message: {b!r}")

    def not_a_review():
        s, _, b = post(port, "/validate", {"kind": "Pod"})
        expect(s == 400 and json.loads(b).get("error"), f"{s} {b!r}")

    def valid_review():
        s, h, b = post(port, "/validate?timeout=10s", GOOD)
        expect(s == 200, f"status {s}: {b[:300]!r}")
        expect(h.get("content-type") == "application/json", h.get("content-type"))
        doc = json.loads(b)
        expect(doc.get("apiVersion") == "admission.k8s.io/v1", doc.get("apiVersion"))
        expect(doc.get("kind") == "AdmissionReview", doc.get("kind"))
        expect(doc["response"]["uid"] == GOOD["request"]["uid"], doc["response"].get("uid"))
        expect(doc["response"]["allowed"] is True, f"not allowed: {doc['response']}")

    def mutate_review():
        s, _, b = post(port, "/mutate?timeout=10s", GOOD)
        expect(s == 200, f"status {s}: {b[:300]!r}")
        doc = json.loads(b)
        expect(doc["response"]["uid"] == GOOD["request"]["uid"], doc["response"].get("uid"))

    def denied_review():
        rv = ingress_review("3f1c2d4e-0000-4000-8000-000000000002", "tenant2-gateway",
                            "api.tenant1.aigw.example.com")
        s, _, b = post(port, "/validate", rv)
        expect(s == 200, f"status {s}")
        resp = json.loads(b)["response"]
        expect(resp["allowed"] is False, f"allowed: {resp}")
        msg = resp.get("status", {}).get("message", "")
        expect(msg.startswith("[host-ownership]"), f"message {msg!r}")

    for name, fn in [
        ("healthz", healthz), ("healthz HEAD", head_healthz), ("readyz", readyz),
        ("metrics route", metrics_route), ("404 unknown path", not_found),
        ("405 GET /validate with Allow", validate_get), ("405 PUT /mutate", mutate_put),
        ("405 POST /healthz", healthz_post), ("415 text/plain", wrong_type),
        ("415 no Content-Type", no_type), ("Content-Type parameters accepted", type_with_charset),
        ("400 malformed JSON", bad_json), ("400 not an AdmissionReview", not_a_review),
        ("valid review with ?timeout=10s", valid_review), ("mutate review", mutate_review),
        ("denied review is [host-ownership]", denied_review),
    ]:
        check(name, fn)


def limit_checks(port):
    def too_big_declared():
        # The whole body is sent, as the apiserver does: the 413 must still be readable
        # (answered before the body, it would be lost to the reset over the unread bytes).
        s = tls_socket(port)
        try:
            s.sendall(b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: %d\r\n\r\n" % (BODY_MAX + 1))
            s.sendall(b" " * (BODY_MAX + 1))
            st, h, b = read_response(s)
        finally:
            s.close()
        expect(st == 413, f"status {st}")
        expect(h.get("content-type") == "application/json", h.get("content-type"))

    def too_big_expect_continue():
        # A client that waits for a go-ahead is refused on Content-Length alone.
        s = tls_socket(port)
        try:
            s.sendall(b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % (BODY_MAX + 1))
            st, h, b = read_response(s)
        finally:
            s.close()
        expect(st == 413, f"status {st}")

    def too_big_chunked():
        s = tls_socket(port)
        chunk = b" " * 65536
        try:
            s.sendall(b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n")
            for _ in range(BODY_MAX // len(chunk) + 2):
                s.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            s.sendall(b"0\r\n\r\n")
            st, _, _ = read_response(s)
        finally:
            s.close()
        expect(st == 413, f"status {st}")

    def exactly_the_cap():
        doc = json.dumps(GOOD).encode()
        body = doc + b" " * (BODY_MAX - len(doc))
        st, _, b = post(port, "/validate", body)
        expect(st == 200, f"a body of exactly the cap got {st}: {b[:200]!r}")

    check("413 declared Content-Length > the 4 MiB cap, whole body sent", too_big_declared)
    check("413 on Content-Length alone with Expect: 100-continue", too_big_expect_continue)
    check("413 chunked body > the 4 MiB cap", too_big_chunked)
    check("a body of exactly the 4 MiB cap accepted", exactly_the_cap)


def keepalive_check(port):
    def keepalive():
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=CTX, timeout=WAIT)
        try:
            def once(method, path, body=None):
                conn.request(method, path, body=body, headers=JSON_HDR if body else {})
                r = conn.getresponse()
                data = r.read()
                expect(r.status == 200, f"{method} {path}: {r.status}")
                expect(not r.will_close, f"{method} {path}: server closes the connection")
                return data

            def connections(text):
                for line in text.decode().splitlines():
                    if line.startswith("tenantguard_http_connections_total "):
                        return float(line.split()[1])
                raise AssertionError("no tenantguard_http_connections_total")

            before = connections(once("GET", "/metrics"))
            sock = conn.sock
            for _ in range(5):
                once("POST", "/validate?timeout=10s", json.dumps(GOOD))
                expect(conn.sock is sock, "http.client opened a new socket")
            after = connections(once("GET", "/metrics"))
            expect(conn.sock is sock, "http.client opened a new socket")
            expect(after == before, f"server accepted {after - before:g} more connections")
        finally:
            conn.close()

    check("keep-alive: 7 requests on one connection", keepalive)


def tls_checks(port):
    def attempt(version):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(CA)
        # Old protocol versions need the lowest OpenSSL security level on the client side.
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)   # TLS 1.1 is, on purpose
            ctx.minimum_version = ctx.maximum_version = version
        with tls_socket(port, ctx) as s:
            return s.version()

    def tls11_refused():
        try:
            got = attempt(ssl.TLSVersion.TLSv1_1)
        except ssl.SSLError as e:
            # A client that cannot even offer TLS 1.1 would prove nothing.
            expect(e.reason not in ("NO_PROTOCOLS_AVAILABLE", "UNSUPPORTED_PROTOCOL")
                   or "alert" in str(e).lower(), f"the client could not try TLS 1.1: {e}")
            return
        except (ConnectionResetError, BrokenPipeError):
            return
        raise AssertionError(f"handshake succeeded with {got}")

    def tls12():
        got = attempt(ssl.TLSVersion.TLSv1_2)
        expect(got == "TLSv1.2", got)

    def tls13():
        got = attempt(ssl.TLSVersion.TLSv1_3)
        expect(got == "TLSv1.3", got)

    check("TLS 1.1 refused", tls11_refused)
    check("TLS 1.2 accepted", tls12)
    check("TLS 1.3 accepted", tls13)


def metrics_checks(port):
    def counters():
        m = metrics(port)
        allowed = 'tenantguard_reviews_total{webhook="validate",kind="Ingress",' \
                  'operation="CREATE",decision="allowed",rule="none"}'
        expect(m.get(allowed, 0) >= 1, f"missing {allowed}")
        expect(m.get('tenantguard_reviews_total{webhook="mutate",kind="Ingress",'
                     'operation="CREATE",decision="allowed",rule="none"}', 0) >= 1,
               "no mutate review counted")
        expect(m.get('tenantguard_http_requests_total{code="200"}', 0) >= 1, "no 200 counted")
        for code in ("400", "404", "405", "413", "415"):
            expect(m.get(f'tenantguard_http_requests_total{{code="{code}"}}', 0) >= 1,
                   f"no {code} counted")
        expect(m.get('tenantguard_review_duration_seconds_count{webhook="validate"}', 0) >= 1,
               "no duration observed")
        expect(m.get('tenantguard_review_duration_seconds_bucket{webhook="validate",le="+Inf"}')
               == m.get('tenantguard_review_duration_seconds_count{webhook="validate"}'),
               "+Inf bucket differs from the count")
        expect(any(k.startswith("tenantguard_reviews_total{") and 'decision="error"' in k
                   for k in m), "bad input not counted as decision=error")
        for g in ("tenantguard_config_generation", "tenantguard_config_reload_failures_total",
                  "tenantguard_config_last_reload_success", "tenantguard_state_objects",
                  "tenantguard_state_claims", "tenantguard_tls_reloads_total",
                  "tenantguard_tls_reload_failures_total",
                  "tenantguard_tls_cert_not_after_seconds"):
            expect(g in m, f"missing {g}")
        expect(m["tenantguard_config_last_reload_success"] == 1, "last reload not a success")
        expect(m["tenantguard_tls_reloads_total"] == 0, "a TLS reload without a change")

    def denied_counted():
        m = metrics(port)
        key = 'tenantguard_reviews_total{webhook="validate",kind="Ingress",' \
              'operation="CREATE",decision="denied",rule="host-ownership"}'
        expect(m.get(key, 0) >= 1, f"missing {key}")

    check("metrics count reviews and responses", counters)
    check("metrics count the denial by rule", denied_counted)


def make_client_certs(tmp, certs):
    """A client certificate from the serving CA and one from another CA, as
    (good_crt, good_key, rogue_crt, rogue_key); None (reported) when openssl fails."""
    cdir = os.path.join(tmp, "client")
    os.makedirs(cdir)
    ext = os.path.join(cdir, "ext.cnf")
    write(ext, "extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n")
    good_crt, good_key = os.path.join(cdir, "good.crt"), os.path.join(cdir, "good.key")
    csr = os.path.join(cdir, "good.csr")
    for cmd in (
        ["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", good_key, "-subj", "/CN=kube-apiserver", "-out", csr],
        ["openssl", "x509", "-req", "-in", csr, "-CA", CA, "-CAkey", certs["ca_key"],
         "-CAcreateserial", "-days", "1", "-sha256", "-extfile", ext, "-out", good_crt],
    ):
        r = run(cmd)
        if r.returncode != 0:
            report("client certificate setup", False, r.stderr.decode()[-300:])
            return None
    rogue_crt, rogue_key = os.path.join(cdir, "rogue.crt"), os.path.join(cdir, "rogue.key")
    r = run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", rogue_key, "-subj", "/CN=rogue", "-days", "1",
             "-addext", "extendedKeyUsage=clientAuth", "-out", rogue_crt])
    if r.returncode != 0:
        report("client certificate setup", False, r.stderr.decode()[-300:])
        return None
    return good_crt, good_key, rogue_crt, rogue_key


def client_cert_checks(tmp, certs):
    # A client certificate from the serving CA, one from another CA, and the serving
    # certificate itself (same CA, but not for client authentication).
    made = make_client_certs(tmp, certs)
    if made is None:
        return
    good_crt, good_key, rogue_crt, rogue_key = made
    srv = Server(tmp, "mtls", certs, ["--client-ca", CA])
    try:
        port = srv.port

        def refused(ctx):
            try:
                s, _, _ = post(port, "/validate", GOOD, ctx=ctx)
            except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
                return None
            return None if s == 403 else f"status {s}"

        check("mTLS: no client certificate refused", lambda: refused(CTX))
        check("mTLS: certificate of another CA refused",
              lambda: refused(client_ctx(rogue_crt, rogue_key)))
        check("mTLS: serving certificate (no clientAuth) refused",
              lambda: refused(client_ctx(certs["crt"], certs["key"])))

        def accepted():
            ctx = client_ctx(good_crt, good_key)
            s, _, b = post(port, "/validate", GOOD, ctx=ctx)
            expect(s == 200, f"status {s}: {b[:200]!r}")
            s, _, _ = get(port, "/metrics", ctx=ctx)
            expect(s == 200, f"/metrics with certificate: {s}")

        def probes_open():
            for path in ("/healthz", "/readyz"):
                s, _, _ = get(port, path)
                expect(s == 200, f"{path} without certificate: {s}")
            s, _, _ = get(port, "/metrics")
            expect(s == 403, f"/metrics without certificate: {s}")

        check("mTLS: certificate signed by the CA accepted", accepted)
        check("mTLS: probes need no certificate, /metrics does", probes_open)
    finally:
        srv.stop()


def drain_check(tmp, certs):
    def drain():
        srv = Server(tmp, "drain", certs)
        try:
            body = json.dumps(GOOD).encode()
            half = len(body) // 2
            s = tls_socket(srv.port)
            s.sendall(b"POST /validate?timeout=10s HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
                      + body[:half])
            time.sleep(0.5)
            srv.proc.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            expect(srv.proc.poll() is None, f"exited before the request finished: "
                   f"{srv.proc.returncode}")
            # New connections are refused while the old one drains.
            try:
                socket.create_connection(("127.0.0.1", srv.port), timeout=2).close()
                raise AssertionError("a new connection was accepted after SIGTERM")
            except (ConnectionRefusedError, ConnectionResetError):
                pass
            s.sendall(body[half:])
            st, h, b = read_response(s)
            s.close()
            expect(st == 200, f"in-flight request answered {st}: {b[:200]!r}")
            expect(json.loads(b)["response"]["uid"] == GOOD["request"]["uid"], "wrong uid")
            expect(h.get("connection", "").lower() == "close", "no Connection: close in drain")
            rc = srv.proc.wait(WAIT)
            expect(rc == 0, f"exit status {rc}: {srv.logtext()}")
        finally:
            srv.stop()

    check("SIGTERM drains an in-flight request and exits 0", drain)


def decision_lines(text):
    """The decision log lines of a server log as parsed objects; a line that does not parse
    (one cut or interleaved with another) fails."""
    out = []
    for line in text.splitlines():
        if '"msg":"decision"' in line:
            out.append(json.loads(line))
    return out


def declog_checks(tmp, certs):
    """The decision log is buffered per worker thread (webhook/declog.c): no line may be lost,
    cut or mixed with another, neither while the server runs nor when SIGTERM stops it."""
    def burst(port, prefix, conns, per_conn):
        errors = []

        def one(c):
            conn = http.client.HTTPSConnection("127.0.0.1", port, context=CTX, timeout=WAIT)
            try:
                for i in range(per_conn):
                    doc = ingress_review(f"{prefix}-{c}-{i}", "tenant1-gateway",
                                         "api.tenant1.aigw.example.com")
                    conn.request("POST", "/validate", json.dumps(doc), JSON_HDR)
                    r = conn.getresponse()
                    r.read()
                    if r.status != 200:
                        errors.append(r.status)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(repr(e))
            finally:
                conn.close()

        ts = [threading.Thread(target=one, args=(c,)) for c in range(conns)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        expect(not errors, f"reviews failed: {errors[:3]}")
        return {f"{prefix}-{c}-{i}" for c in range(conns) for i in range(per_conn)}

    def uids(srv, prefix):
        return [d["uid"] for d in decision_lines(srv.logtext(tail=None))
                if d.get("uid", "").startswith(prefix + "-")]

    def while_running():
        srv = Server(tmp, "declog", certs, extra=("--threads", "2"))
        try:
            want = burst(srv.port, "run", 4, 50)
            got = wait_for(lambda: len(uids(srv, "run")) == len(want) and uids(srv, "run"), 5)
            expect(got, f"{len(uids(srv, 'run'))} of {len(want)} lines written while serving")
            expect(sorted(got) == sorted(want), "lines missing or written twice")
            line = decision_lines(srv.logtext(tail=None))[-1]
            expect(line["allowed"] is True and line["kind"] == "Ingress" and
                   line["namespace"] == "tenant1-gateway", f"unexpected line {line}")
        finally:
            srv.stop()

    def on_sigterm():
        srv = Server(tmp, "declog-term", certs, extra=("--threads", "2"))
        try:
            want = burst(srv.port, "term", 4, 100)
            srv.proc.send_signal(signal.SIGTERM)   # at once: lines are still buffered
            rc = srv.proc.wait(WAIT)
            expect(rc == 0, f"exit status {rc}: {srv.logtext()}")
            got = uids(srv, "term")
            expect(sorted(got) == sorted(want),
                   f"{len(set(want) - set(got))} of {len(want)} lines lost, "
                   f"{len(got) - len(set(got))} written twice")
        finally:
            srv.stop()

    check("decision log: 200 reviews on 4 keep-alive connections, every line written whole "
          "and once while serving", while_running)
    check("decision log: SIGTERM right after 400 reviews loses no line", on_sigterm)


def reload_checks(tmp, certs):
    cfg = os.path.join(tmp, "reload.yaml")
    write(cfg, config_yaml([("tenant1", "*.customer.com")]))
    srv = Server(tmp, "reload", certs, ["--config", cfg])
    try:
        port = srv.port

        def gen():
            return metrics(port)["tenantguard_config_generation"]

        def first():
            expect(gen() == 1, f"generation {gen()}")

        def new_tenant():
            write(cfg, config_yaml([("tenant1", "*.customer.com"), ("tenant3", "*.third.com")]))
            expect(wait_for(lambda: gen() == 2, 3), f"generation {gen()} after 3 s")
            # tenant3's reservation is in force: tenant1 may no longer claim it.
            rv = ingress_review("3f1c2d4e-0000-4000-8000-000000000003", "tenant1-gateway",
                                "shop.third.com")
            s, _, b = post(port, "/validate", rv)
            expect(s == 200 and json.loads(b)["response"]["allowed"] is False,
                   f"tenant1 may claim tenant3's domain: {b[:300]!r}")

        def bad_file():
            before = metrics(port)
            write(cfg, "systemDomain: aigw.example.com\nnoSuchKey: 1\ntenants: []\n")
            ok = wait_for(lambda: metrics(port)["tenantguard_config_reload_failures_total"]
                          > before["tenantguard_config_reload_failures_total"], 3)
            m = metrics(port)
            expect(ok, "failure not counted within 3 s")
            expect(m["tenantguard_config_generation"] == 2, f"generation {m['tenantguard_config_generation']}")
            expect(m["tenantguard_config_last_reload_success"] == 0, "last reload still a success")
            s, _, _ = post(port, "/validate", GOOD)
            expect(s == 200, f"review after a bad reload: {s}")
            expect("noSuchKey" in srv.logtext() or "unknown" in srv.logtext().lower(),
                   "the reason is not logged")

        def recovered():
            write(cfg, config_yaml([("tenant1", "*.customer.com")]))
            expect(wait_for(lambda: gen() == 3, 3), f"generation {gen()} after 3 s")
            expect(metrics(port)["tenantguard_config_last_reload_success"] == 1, "not a success")

        check("reload: first config is generation 1", first)
        check("reload: new tenant raises the generation within 3 s", new_tenant)
        check("reload: invalid file keeps the generation and counts a failure", bad_file)
        check("reload: a good file again is generation 3", recovered)
    finally:
        srv.stop()

    def configmap_swap():
        # The layout a ConfigMap volume has: config.yaml -> ..data/config.yaml, and an update
        # swaps the ..data symlink to a new timestamped directory.
        vol = os.path.join(tmp, "vol")
        for d, tenants in (("..2024_01", [("tenant1", "*.customer.com")]),
                           ("..2024_02", [("tenant1", "*.customer.com"), ("tenant4", "*.four.com")])):
            os.makedirs(os.path.join(vol, d))
            write(os.path.join(vol, d, "config.yaml"), config_yaml(tenants))
        os.symlink("..2024_01", os.path.join(vol, "..data"))
        os.symlink("..data/config.yaml", os.path.join(vol, "config.yaml"))
        srv2 = Server(tmp, "configmap", certs, ["--config", os.path.join(vol, "config.yaml")])
        try:
            expect(metrics(srv2.port)["tenantguard_config_generation"] == 1, "first generation")
            tmp_link = os.path.join(vol, "..data_tmp")
            os.symlink("..2024_02", tmp_link)
            os.rename(tmp_link, os.path.join(vol, "..data"))
            expect(wait_for(lambda: metrics(srv2.port)["tenantguard_config_generation"] == 2, 3),
                   "the swapped ..data symlink was not noticed within 3 s")
        finally:
            srv2.stop()

    check("reload: ConfigMap ..data symlink swap", configmap_swap)


def state_checks(tmp, certs):
    state = os.path.join(tmp, "state.json")
    write(state, "[{ this is not json")
    srv = Server(tmp, "state", certs, ["--state", state])
    try:
        port = srv.port

        def not_ready():
            s, _, _ = get(port, "/readyz")
            expect(s == 503, f"/readyz {s} with a broken state file")
            s, h, _ = post(port, "/validate", GOOD)
            expect(s == 500, f"review answered {s} without a state (must fail closed)")
            expect(h.get("content-type") == "application/json", h.get("content-type"))

        def ready_later():
            ing = ingress_review("x", "tenant1-gateway", "shop.tenant1.aigw.example.com")
            write(state, json.dumps([ing["request"]["object"]]))
            expect(wait_for(lambda: get(port, "/readyz")[0] == 200, 3), "not ready after 3 s")
            m = metrics(port)
            expect(m["tenantguard_state_objects"] == 1, f"state objects {m['tenantguard_state_objects']}")
            expect(m["tenantguard_state_claims"] >= 1, f"state claims {m['tenantguard_state_claims']}")
            s, _, _ = post(port, "/validate", GOOD)
            expect(s == 200, f"review {s}")

        check("state: broken state file -> /readyz 503, reviews 500", not_ready)
        check("state: fixed state file -> ready within 3 s", ready_later)
    finally:
        srv.stop()

    def bad_config_fatal():
        cfg = os.path.join(tmp, "bad.yaml")
        write(cfg, "systemDomain: aigw.example.com\nbogus: true\n")
        srv2 = Server(tmp, "badcfg", certs, ["--config", cfg], wait=False)
        try:
            rc = srv2.proc.wait(WAIT)
            expect(rc != 0, "exited 0")
            expect("bogus" in srv2.logtext() or "bad.yaml" in srv2.logtext(), srv2.logtext())
        finally:
            srv2.stop()

    check("a bad config at start-up is fatal", bad_config_fatal)


# ---- TLS certificate reloads -------------------------------------------------------------

def cert_der(path):
    """The DER bytes of the first certificate in a PEM file."""
    with open(path) as f:
        m = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", f.read(), re.S)
    expect(m is not None, f"no certificate in {path}")
    return ssl.PEM_cert_to_DER_cert(m.group(0))


def cert_not_after(path):
    """The certificate's notAfter as Unix time, as openssl reads it."""
    r = run(["openssl", "x509", "-in", path, "-noout", "-enddate"])
    expect(r.returncode == 0, r.stderr.decode()[-300:])
    return ssl.cert_time_to_seconds(r.stdout.decode().strip().split("=", 1)[1])


def served_der(port):
    """The certificate a NEW connection is served (DER), taken without verifying it."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with tls_socket(port, ctx) as s:
        return s.getpeercert(binary_form=True)


def replace_file(src, dst):
    """Puts a copy of src at dst as a careful writer does: a temporary file renamed over it."""
    tmp = dst + ".new"
    shutil.copyfile(src, tmp)
    os.rename(tmp, dst)


def write_over(dst, data):
    tmp = dst + ".new"
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, dst)


def tls_reload_checks(tmp):
    dirs = [os.path.join(tmp, "tls1"), os.path.join(tmp, "tls2")]
    # Another validity for the second pair, so that the expiry gauge tells the two apart.
    for d, extra in zip(dirs, ([], ["--days", "30"])):
        r = run([BIN, "certs", "--out", d, *extra])
        if r.returncode != 0:
            report("TLS reload: certificate setup", False, r.stderr.decode()[-300:])
            return
    crt1, key1, ca1 = (os.path.join(dirs[0], f) for f in ("tls.crt", "tls.key", "ca.crt"))
    crt2, key2, ca2 = (os.path.join(dirs[1], f) for f in ("tls.crt", "tls.key", "ca.crt"))
    der1, der2 = cert_der(crt1), cert_der(crt2)
    ctx1 = ssl.create_default_context(cafile=ca1)
    ctx2 = ssl.create_default_context(cafile=ca2)
    ctx_any = ssl.create_default_context(cafile=ca1)
    ctx_any.load_verify_locations(ca2)

    live = os.path.join(tmp, "tls-live")
    os.makedirs(live)
    crt, key = os.path.join(live, "tls.crt"), os.path.join(live, "tls.key")
    shutil.copyfile(crt1, crt)
    shutil.copyfile(key1, key)
    srv = Server(tmp, "tlsreload", {"crt": crt, "key": key}, ctx=ctx1)
    conn = http.client.HTTPSConnection("127.0.0.1", srv.port, context=ctx1, timeout=WAIT)
    try:
        port = srv.port
        m0 = {}

        def mtr():
            return metrics(port, ctx_any)

        def first():
            expect(served_der(port) == der1, "not the first certificate")
            m0.update(mtr())
            expect(m0["tenantguard_tls_reloads_total"] == 0, "reloads before any change")
            expect(m0["tenantguard_tls_reload_failures_total"] == 0, "failures before any change")
            want = cert_not_after(crt1)
            got = m0["tenantguard_tls_cert_not_after_seconds"]
            expect(got == want, f"not_after gauge {got:.0f}, certificate says {want:.0f}")
            # A keep-alive connection, opened on the first certificate, used after the swap.
            conn.request("GET", "/healthz")
            r = conn.getresponse()
            r.read()
            expect(r.status == 200 and not r.will_close, f"keep-alive /healthz {r.status}")

        def new_pair():
            sock = conn.sock
            replace_file(crt2, crt)
            replace_file(key2, key)
            expect(wait_for(lambda: served_der(port) == der2, 3),
                   "a new connection still gets the old certificate after 3 s")
            # The new certificate verifies against the new CA only.
            s, _, _ = get(port, "/healthz", ctx2)
            expect(s == 200, f"/healthz verified against the new CA: {s}")
            m = mtr()
            expect(m["tenantguard_tls_reloads_total"] > m0["tenantguard_tls_reloads_total"],
                   "tenantguard_tls_reloads_total did not rise")
            want = cert_not_after(crt2)
            got = m["tenantguard_tls_cert_not_after_seconds"]
            expect(got == want, f"not_after gauge {got:.0f}, new certificate says {want:.0f}")
            expect(want != cert_not_after(crt1), "both certificates expire alike: proves nothing")
            expect(hashlib.sha256(der2).hexdigest() in srv.logtext(),
                   "the log does not name the new certificate's SHA-256")
            # The connection opened before the swap: same socket, same session, still served.
            conn.request("POST", "/validate", body=json.dumps(GOOD), headers=JSON_HDR)
            r = conn.getresponse()
            body = r.read()
            expect(r.status == 200, f"old connection: {r.status} {body[:200]!r}")
            expect(conn.sock is sock, "http.client reconnected instead of reusing the connection")
            expect(sock.getpeercert(binary_form=True) == der1,
                   "the old connection's certificate changed")

        def mismatch():
            before = mtr()
            log_before = srv.logtext(tail=None).count("does not match")
            replace_file(crt1, crt)   # DIR1's certificate with DIR2's key
            expect(wait_for(lambda: mtr()["tenantguard_tls_reload_failures_total"]
                            > before["tenantguard_tls_reload_failures_total"], 3),
                   "the failure was not counted within 3 s")
            expect(served_der(port) == der2, "a new connection did not get the previous "
                   "(DIR2) certificate")
            s, _, _ = get(port, "/healthz", ctx2)
            expect(s == 200, f"/healthz after the refused pair: {s}")
            m = mtr()
            expect(m["tenantguard_tls_reloads_total"] == before["tenantguard_tls_reloads_total"],
                   "a refused pair counted as a reload")
            expect(m["tenantguard_tls_cert_not_after_seconds"] == cert_not_after(crt2),
                   "the not_after gauge left the certificate being served")
            text = srv.logtext(tail=None)
            expect("does not match the certificate" in text, "the log does not say why")
            # Logged once per change, not once per poll.
            time.sleep(2.5)
            n = srv.logtext(tail=None).count("does not match") - log_before
            expect(n == 1, f"the refusal was logged {n} times for one change")

        def garbage_and_half_written():
            before = mtr()["tenantguard_tls_reload_failures_total"]
            write_over(key, b"this is not a key\n")
            expect(wait_for(lambda: mtr()["tenantguard_tls_reload_failures_total"] > before, 3),
                   "a garbage key was not refused within 3 s")
            expect("no complete PEM private key" in srv.logtext(), "no reason for the garbage key")
            replace_file(key2, key)   # DIR1 certificate, DIR2 key: still a mismatch
            expect(wait_for(lambda: mtr()["tenantguard_tls_reload_failures_total"] > before + 1,
                            3), "the mismatch was not refused again")
            # DIR2's certificate written in two halves, in place, as a careless writer would.
            with open(crt2, "rb") as f:
                pem = f.read()
            m = mtr()
            with open(crt, "wb") as f:
                f.write(pem[:len(pem) // 2])
                f.flush()
                expect(wait_for(lambda: mtr()["tenantguard_tls_reload_failures_total"]
                                > m["tenantguard_tls_reload_failures_total"], 3),
                       "a half-written certificate was not refused within 3 s")
                expect(served_der(port) == der2, "not serving DIR2 during the half write")
                f.write(pem[len(pem) // 2:])
            expect(wait_for(lambda: mtr()["tenantguard_tls_reloads_total"]
                            > m["tenantguard_tls_reloads_total"], 3),
                   "the completed file was not installed within 3 s")
            expect(served_der(port) == der2, "not serving DIR2 after the complete write")

        check("TLS reload: first certificate served, expiry gauge matches it", first)
        check("TLS reload: new pair reaches new connections within 3 s, old keep-alive "
              "connection still served", new_pair)
        check("TLS reload: mismatched pair refused once, logged, counted; previous certificate "
              "kept", mismatch)
        check("TLS reload: garbage key and half-written certificate refused, the completed "
              "file installed", garbage_and_half_written)
    finally:
        conn.close()
        srv.stop()

    def secret_swap():
        # The layout of a Secret volume: tls.crt -> ..data/tls.crt, and an update swaps the
        # ..data symlink to a new directory, both files at once.
        vol = os.path.join(tmp, "tls-vol")
        for name, d in (("..2024_a", dirs[0]), ("..2024_b", dirs[1])):
            os.makedirs(os.path.join(vol, name))
            for f in ("tls.crt", "tls.key"):
                shutil.copyfile(os.path.join(d, f), os.path.join(vol, name, f))
        os.symlink("..2024_a", os.path.join(vol, "..data"))
        for f in ("tls.crt", "tls.key"):
            os.symlink(os.path.join("..data", f), os.path.join(vol, f))
        srv2 = Server(tmp, "tlssecret", {"crt": os.path.join(vol, "tls.crt"),
                                         "key": os.path.join(vol, "tls.key")}, ctx=ctx1)
        try:
            expect(served_der(srv2.port) == der1, "not the first certificate")
            tmp_link = os.path.join(vol, "..data_tmp")
            os.symlink("..2024_b", tmp_link)
            os.rename(tmp_link, os.path.join(vol, "..data"))
            expect(wait_for(lambda: served_der(srv2.port) == der2, 3),
                   "the swapped ..data symlink was not noticed within 3 s")
            m = metrics(srv2.port, ctx2)
            expect(m["tenantguard_tls_reloads_total"] == 1, f"reloads {m['tenantguard_tls_reloads_total']}")
            expect(m["tenantguard_tls_reload_failures_total"] == 0,
                   "a failure for a swap of both files at once")
        finally:
            srv2.stop()

    def mismatch_at_start():
        srv3 = Server(tmp, "tlsmismatch", {"crt": crt1, "key": key2}, wait=False)
        try:
            rc = srv3.proc.wait(WAIT)
            expect(rc != 0, "started with a key that does not match its certificate")
            expect("does not match the certificate" in srv3.logtext(), srv3.logtext())
        finally:
            srv3.stop()

    check("TLS reload: Secret volume ..data symlink swap", secret_swap)
    check("a certificate and key that do not match are fatal at start-up", mismatch_at_start)


def main():
    global BIN, CA, CTX
    if len(sys.argv) != 2:
        print("usage: test_https.py BUILD_DIR", file=sys.stderr)
        return 2
    BIN = os.path.join(sys.argv[1], "tenantguard")
    with tempfile.TemporaryDirectory(prefix="tg-https-") as tmp:
        cdir = os.path.join(tmp, "certs")
        r = run([BIN, "certs", "--out", cdir])
        if r.returncode != 0:
            report("tenantguard certs", False, r.stderr.decode()[-300:])
        else:
            certs = {"crt": os.path.join(cdir, "tls.crt"), "key": os.path.join(cdir, "tls.key"),
                     "ca_key": os.path.join(cdir, "ca.key")}
            CA = os.path.join(cdir, "ca.crt")
            CTX = client_ctx()
            servers = []
            try:
                srv = Server(tmp, "main", certs)
                servers.append(srv)
                routes_checks(srv.port)
                limit_checks(srv.port)
                keepalive_check(srv.port)
                tls_checks(srv.port)
                metrics_checks(srv.port)
                client_cert_checks(tmp, certs)
                drain_check(tmp, certs)
                declog_checks(tmp, certs)
                reload_checks(tmp, certs)
                state_checks(tmp, certs)
                tls_reload_checks(tmp)

                def clean_exit():
                    srv.proc.send_signal(signal.SIGTERM)
                    rc = srv.proc.wait(WAIT)
                    expect(rc == 0, f"exit status {rc}: {srv.logtext()}")

                check("main server exits 0 on SIGTERM", clean_exit)
            except Exception as e:  # noqa: BLE001 - a broken fixture fails the run
                report("fixture", False, f"{type(e).__name__}: {e}")
            finally:
                for s in servers:
                    s.stop()
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
