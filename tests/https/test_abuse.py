#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""What a hostile client on the pod network can do to `serve`, on loopback and bounded in
time: partial TLS records, slow headers and bodies, idle TCP and TLS connections, garbage,
renegotiation, over-size bodies, a crowd from one address. Each attack is checked for what
must keep holding: fresh legitimate reviews are answered, no core is burnt, and the
descriptors come back once the attacker is gone.

Usage: python3 tests/https/test_abuse.py BUILD_DIR
Prints `ok NAME` / `FAIL NAME: why` per check and `N passed, N failed` last.
"""
import os
import socket
import ssl
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_https as h  # noqa: E402 - the fixtures (Server, post, metrics, ...)

expect = h.expect
SRV = PORT = None
CLK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of a process, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def cpu_during(pid, secs):
    c0 = cpu_seconds(pid)
    time.sleep(secs)
    return cpu_seconds(pid) - c0


def legit_review(port, uid):
    """One fresh review on a new connection; raises unless it is answered allowed."""
    doc = h.ingress_review(uid, "tenant1-gateway", "api.tenant1.aigw.example.com")
    s, _, b = h.post(port, "/validate", doc)
    expect(s == 200 and b'"allowed":true' in b.replace(b" ", b""), f"{s} {b[:200]!r}")


def tls_raw(port):
    """A TLS client over a MemoryBIO, so the test decides which bytes of a record are sent.
    Returns (sock, sslobj, outgoing bio) after the handshake."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=h.WAIT)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = h.CTX.wrap_bio(inc, out, server_hostname="127.0.0.1")
    while True:
        try:
            obj.do_handshake()
            break
        except ssl.SSLWantReadError:
            sock.sendall(out.read())
            data = sock.recv(65536)
            if not data:
                raise ConnectionError("closed during the handshake")
            inc.write(data)
    sock.sendall(out.read())
    return sock, obj, out


def close_all(socks):
    for s in socks:
        try:
            s.close()
        except OSError:
            pass


def connect_from(addr, port, timeout=None):
    """A TCP connection from a loopback address of its own, so an attacker's per-address
    limit is not the legitimate client's (127.0.0.1)."""
    s = socket.socket()
    s.settimeout(timeout or h.WAIT)
    s.bind((addr, 0))
    s.connect(("127.0.0.1", PORT))
    return s


def tls_from(addr, ctx=None):
    return (ctx or h.CTX).wrap_socket(connect_from(addr, PORT), server_hostname="127.0.0.1")


def closed_by_server(s, timeout):
    """Waits up to `timeout` for the server to close s (whatever it sends first, a TLS
    alert for instance): True when it did."""
    end = time.time() + timeout
    try:
        while time.time() < end:
            s.settimeout(max(0.01, end - time.time()))
            if s.recv(4096) == b"":
                return True
    except socket.timeout:
        return False
    except (OSError, ssl.SSLError):
        return True
    return False


def trickle(s, data, every, limit):
    """Sends data one byte every `every` seconds until the server closes the connection;
    True when it did within `limit` seconds."""
    end = time.time() + limit
    for i in range(len(data)):
        if time.time() >= end:
            return False
        try:
            s.sendall(data[i:i + 1])
        except (OSError, ssl.SSLError):
            return True
        if closed_by_server(s, every):
            return True
    return closed_by_server(s, max(0.1, end - time.time()))


class Legit(threading.Thread):
    """Fresh reviews, each on a new connection from 127.0.0.1, for as long as an attack
    runs: every one must be answered."""

    def __init__(self):
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.answered = 0
        self.errors = []

    def run(self):
        n = 0
        while not self.stop.is_set():
            n += 1
            try:
                legit_review(PORT, f"3f1c2d4e-0000-4000-8000-{n:012d}")
                self.answered += 1
            except Exception as e:  # noqa: BLE001 - every failure is reported
                self.errors.append(f"{type(e).__name__}: {e}")
            self.stop.wait(0.1)

    def finish(self):
        self.stop.set()
        self.join()
        expect(self.answered > 0 and not self.errors,
               f"{self.answered} fresh reviews answered, {len(self.errors)} failed: "
               f"{self.errors[:3]}")


def cuts(reason):
    return h.metrics(PORT)[f'tenantguard_http_connections_cut_total{{reason="{reason}"}}']


def attack(name, fn, reason=None, expect_cuts=None):
    """Runs fn() (it returns the sockets it still holds) with legitimate reviews alongside;
    then closes them and checks the descriptors come back and the cuts were counted."""
    def body():
        pid = SRV.proc.pid
        fds0 = fd_count(pid)
        before = cuts(reason) if reason else 0
        legit = Legit()
        legit.start()
        socks = []
        try:
            socks = fn() or []
        finally:
            legit.finish()
            close_all(socks)
        back = h.wait_for(lambda: fd_count(pid) <= fds0, h.WAIT)
        expect(back, f"{fd_count(pid)} descriptors open, {fds0} before the attack")
        if reason:
            got = cuts(reason) - before
            print(f"  {name}: {legit.answered} fresh reviews answered alongside, "
                  f"{got:.0f} connections cut ({reason})")
            expect(got == expect_cuts, f"{got:.0f} cut for {reason}, expected {expect_cuts}")
        else:
            print(f"  {name}: {legit.answered} fresh reviews answered alongside")

    h.check(f"abuse: {name}", body)


def parallel(fn, n):
    """fn(i) for i in 0..n-1 on threads; the results in order (an exception fails)."""
    out, errs = [None] * n, []

    def one(i):
        try:
            out[i] = fn(i)
        except Exception as e:  # noqa: BLE001
            errs.append(e)
    ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errs:
        raise errs[0]
    return out


HEADER_S, REQUEST_S = 3, 5   # the defaults of --header-timeout and --request-timeout


def abuse_checks():
    def slow_headers():
        def one(i):
            s = tls_from("127.0.0.2")
            s.sendall(b"POST /validate HTTP/1.1\r\n")
            expect(trickle(s, b"X-Slow: " + b"a" * 200, 0.3, 3 * HEADER_S),
                   "a header trickle outlived three header deadlines")
            return s
        return parallel(one, 8)

    def slow_body():
        def one(i):
            s = tls_from("127.0.0.2")
            s.sendall(b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                      b"\r\nContent-Length: 1000\r\n\r\n")
            expect(trickle(s, b" " * 1000, 0.3, 3 * REQUEST_S),
                   "a body trickle outlived three request deadlines")
            return s
        return parallel(one, 8)

    def idle_tls():
        socks = [tls_from("127.0.0.2") for _ in range(8)]
        for s in socks:
            expect(closed_by_server(s, 3 * HEADER_S), "an idle TLS connection stayed open")
        return socks

    def tcp_only():
        socks = [connect_from("127.0.0.2", PORT) for _ in range(8)]
        for s in socks:
            expect(closed_by_server(s, 3 * HEADER_S), "a TCP connection without TLS stayed open")
        return socks

    def partial_hello():
        socks = [connect_from("127.0.0.2", PORT) for _ in range(8)]
        for s in socks:
            s.sendall(PARTIAL_HELLO)
        for s in socks:
            expect(closed_by_server(s, 3 * HEADER_S), "a partial record stayed open")
        return socks

    def garbage():
        socks = []
        for i in range(8):
            s = connect_from("127.0.0.2", PORT)
            s.sendall(os.urandom(4096) if i % 2 else b"GET / HTTP/1.1\r\n\r\n" * 64)
            socks.append(s)
        for s in socks:
            expect(closed_by_server(s, 3 * HEADER_S), "garbage left the connection open")
        return socks

    def renegotiation():
        # openssl s_client renegotiates on "R"; GnuTLS refuses a client-initiated one.
        procs = []
        for _ in range(4):
            procs.append(h.subprocess.Popen(
                ["openssl", "s_client", "-connect", f"127.0.0.1:{PORT}", "-tls1_2",
                 "-CAfile", h.CA],
                stdin=h.subprocess.PIPE, stdout=h.subprocess.DEVNULL,
                stderr=h.subprocess.DEVNULL))
        try:
            for p in procs:
                try:
                    p.stdin.write(b"R\nR\nR\n")
                    p.stdin.flush()
                except OSError:
                    pass
            for p in procs:
                try:
                    p.wait(3 * HEADER_S + h.WAIT)
                except h.subprocess.TimeoutExpired:
                    raise AssertionError("a renegotiating client was not closed")
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        return []

    OVER = h.BODY_MAX + 256 * 1024

    def over_size():
        def one(i):
            s = tls_from("127.0.0.2")
            try:
                s.sendall(b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: "
                          b"application/json\r\nContent-Length: %d\r\n\r\n" % OVER)
                s.sendall(b" " * OVER)
                st, _, _ = h.read_response(s)
                expect(st == 413, f"status {st}")
                # The same connection stays usable after its 413.
                doc = h.json.dumps(h.GOOD).encode()
                s.sendall(b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: "
                          b"application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(doc), doc))
                st, _, b = h.read_response(s)
                expect(st == 200 and b'"allowed":true' in b.replace(b" ", b""), f"{st} {b[:120]!r}")
            finally:
                s.close()
        parallel(one, 2)
        return []

    def crowd():
        # The per-address limit of this server is 16: the rest of 24 are refused.
        # Refused ones are closed at once; all are looked at within a second, well before
        # the handshake deadline closes the others.
        socks = [connect_from("127.0.0.3", PORT) for _ in range(24)]
        time.sleep(0.5)
        for s in socks:
            s.setblocking(False)
        closed = 0
        for s in socks:
            try:
                closed += s.recv(4096) == b""
            except BlockingIOError:
                pass
            except OSError:
                closed += 1
        expect(closed == 8, f"{24 - closed} of 24 connections from one address kept")
        return socks

    attack("slow headers (8 connections, a byte every 0.3 s)", slow_headers,
           "header_deadline", 8)
    attack("slow body (8 connections, a byte every 0.3 s)", slow_body, "request_deadline", 8)
    attack("idle TLS connections (8)", idle_tls, "header_deadline", 8)
    attack("TCP connections without TLS (8)", tcp_only, "handshake_deadline", 8)
    attack("partial TLS record headers (8)", partial_hello, "handshake_deadline", 8)
    attack("garbage instead of TLS (8)", garbage)
    attack("client-initiated TLS 1.2 renegotiation (4 clients)", renegotiation)
    attack("over-size bodies (cap + 256 KiB), 2 uploaders, then a review on the same connection",
           over_size)
    attack("24 connections from one address (limit 16)", crowd, "per_ip", 8)


def first_answer(port, ctx, request):
    """The first bytes a TLS client with `ctx` gets for `request`; b"" when the server closes
    the connection first (at the handshake, or right after it)."""
    try:
        s = h.tls_socket(port, ctx)
        s.sendall(request)
        got = s.recv(4096)
        s.close()
    except (OSError, ssl.SSLError):
        got = b""
    return got


def cert_handshake_checks(tmp, certs):
    """--client-cert-handshake: without a valid client certificate there is no connection
    to hold, not even one answered 403."""
    made = h.make_client_certs(tmp, certs)
    if made is None:
        return
    good = h.client_ctx(made[0], made[1])
    rogue = h.client_ctx(made[2], made[3])
    srv = h.Server(tmp, "cerths", certs, ["--client-ca", h.CA, "--client-cert-handshake"],
                   ctx=good)
    try:
        def closed_at_handshake():
            m0 = h.metrics(srv.port, good)
            for ctx in (h.CTX, rogue):
                got = first_answer(srv.port, ctx, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                expect(got == b"", f"a client without a valid certificate was answered {got[:60]!r}")
            key = 'tenantguard_http_connections_cut_total{reason="client_cert"}'
            got = h.metrics(srv.port, good)[key] - m0[key]
            expect(got == 2, f"{got:.0f} connections counted as cut for client_cert, expected 2")
            s, _, b = h.post(srv.port, "/validate", h.GOOD, ctx=good)
            expect(s == 200, f"with a valid certificate: {s} {b[:100]!r}")

        h.check("--client-cert-handshake: no or a foreign certificate closes the connection",
                closed_at_handshake)
    finally:
        srv.stop()
    health_listener_checks(tmp, certs, good)


def health_listener_checks(tmp, certs, good):
    """--health-listen with --client-cert-handshake (the shipped manifests): the probes and
    /metrics answer on their own port without a client certificate, the webhook port serves
    reviews only and still closes a client without one, and the health port keeps the
    deadlines (a hostile client there cannot hold the kubelet's probes off either)."""
    srv = h.Server(tmp, "health", certs, ["--client-ca", h.CA, "--client-cert-handshake",
                                          "--header-timeout", "1"], health=True)
    try:
        hp, wp = srv.health_port, srv.port

        def routes_split():
            for path in ("/healthz", "/readyz", "/metrics"):
                s, _, b = h.get(hp, path)
                expect(s == 200, f"{path} on the health port without a certificate: {s} {b[:80]!r}")
                s, _, b = h.get(wp, path, good)
                expect(s == 404, f"{path} on the webhook port: {s} {b[:80]!r}")
            for path in ("/validate", "/mutate"):
                s, _, b = h.post(hp, path, h.GOOD)
                expect(s == 404, f"{path} on the health port: {s} {b[:80]!r}")
            s, _, b = h.post(wp, "/validate", h.GOOD, ctx=good)
            expect(s == 200 and b'"allowed":true' in b, f"a review on the webhook port: {s} {b[:100]!r}")
            s, _, b = h.post(wp, "/mutate", h.GOOD, ctx=good)
            expect(s == 200, f"a mutation on the webhook port: {s} {b[:100]!r}")

        def webhook_port_closes():
            key = 'tenantguard_http_connections_cut_total{reason="client_cert"}'
            m0 = h.metrics(hp)
            got = first_answer(wp, h.CTX, b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            expect(got == b"", f"a client without a certificate was answered {got[:60]!r}")
            got = h.metrics(hp)[key] - m0[key]
            expect(got == 1, f"{got:.0f} connections counted as cut for client_cert, expected 1")

        def health_port_deadline():
            key = 'tenantguard_http_connections_cut_total{reason="handshake_deadline"}'
            m0 = h.metrics(hp)
            s = socket.create_connection(("127.0.0.1", hp), timeout=h.WAIT)
            try:
                s.sendall(PARTIAL_HELLO)
                got = b""
                while True:   # until the server closes it; at most a TLS alert before that
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    got += chunk
            finally:
                s.close()
            expect(got == b"" or got.startswith(b"\x15"),
                   f"a partial record on the health port was answered {got[:60]!r}")
            got = h.metrics(hp)[key] - m0[key]
            expect(got == 1, f"{got:.0f} connections counted as cut for handshake_deadline, expected 1")
            s, _, _ = h.get(hp, "/readyz")
            expect(s == 200, f"/readyz after the cut: {s}")

        h.check("--health-listen: probes and /metrics there without a certificate, reviews only "
                "on the webhook port", routes_split)
        h.check("--health-listen: the webhook port still closes a client without a certificate "
                "at the handshake (counted)", webhook_port_closes)
        h.check("--health-listen: the health port cuts a stalled handshake at its deadline "
                "(counted)", health_port_deadline)
    finally:
        srv.stop()


# A TLS 1.x handshake record header announcing 512 bytes that never come.
PARTIAL_HELLO = b"\x16\x03\x01\x02\x00"


def busy_loop_check(srv):
    """Partial records held open must not make the server spin. The measure is the server's
    own CPU time over a window with the records held, against the same window idle."""
    window = 3.0

    def partial_records():
        pid = srv.proc.pid
        idle = cpu_during(pid, window)
        socks = []
        try:
            for _ in range(4):   # before the handshake: a record header, nothing else
                s = socket.create_connection(("127.0.0.1", srv.port), timeout=h.WAIT)
                s.sendall(PARTIAL_HELLO)
                socks.append(s)
            for _ in range(2):   # after it: part of an application data record
                s, obj, out = tls_raw(srv.port)
                obj.write(b"POST /validate HTTP/1.1\r\nHost: x\r\n")
                rec = out.read()
                s.sendall(rec[:len(rec) // 2])
                socks.append(s)
            time.sleep(0.2)
            held = cpu_during(pid, window)
            legit_review(srv.port, "3f1c2d4e-0000-4000-8000-0000000000b1")
        finally:
            close_all(socks)
        share = (held - idle) / window
        print(f"  busy loop: server CPU {idle:.2f} s idle, {held:.2f} s with 6 partial records "
              f"held, over {window:.0f} s each: {share:.1%} of a core above idle")
        expect(share < 0.10, f"{share:.1%} of a core spent on 6 partial TLS records")

    h.check("partial TLS records held open do not spin the server", partial_records)


def main():
    if len(sys.argv) != 2:
        print("usage: test_abuse.py BUILD_DIR", file=sys.stderr)
        return 2
    h.BIN = os.path.join(sys.argv[1], "tenantguard")
    with tempfile.TemporaryDirectory(prefix="tg-abuse-") as tmp:
        cdir = os.path.join(tmp, "certs")
        r = h.run([h.BIN, "certs", "--out", cdir])
        if r.returncode != 0:
            h.report("tenantguard certs", False, r.stderr.decode()[-300:])
        else:
            certs = {"crt": os.path.join(cdir, "tls.crt"), "key": os.path.join(cdir, "tls.key"),
                     "ca_key": os.path.join(cdir, "ca.key")}
            h.CA = os.path.join(cdir, "ca.crt")
            h.CTX = h.client_ctx()
            srv = None
            global SRV, PORT
            try:
                srv = SRV = h.Server(tmp, "abuse", certs, ["--max-conns-per-ip", "16"])
                PORT = srv.port
                busy_loop_check(srv)
                abuse_checks()
                cert_handshake_checks(tmp, certs)
            except Exception as e:  # noqa: BLE001 - a broken fixture fails the run
                h.report("fixture", False, f"{type(e).__name__}: {e}")
            finally:
                if srv is not None:
                    srv.stop()
    print(f"{h.passed} passed, {h.failed} failed")
    return 1 if h.failed else 0


if __name__ == "__main__":
    sys.exit(main())
