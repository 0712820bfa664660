#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A fault-injecting HTTPS proxy between tenantguard and the kube-apiserver (test
infrastructure, loopback only). Requests pass through unchanged (the Authorization header
included) unless the control file says otherwise for their class:

  claims     POST/PUT/DELETE of ConfigMaps in tenantguard-system (first-come claim writes)
  informers  LIST and WATCH requests (GET with watch=true, or of a collection); an open
             watch is cut within a second once its class is faulted

Each class's mode: "pass", "hang" (hold the request, answer nothing until the client gives
up), "429" (API Priority and Fairness: Too Many Requests, Retry-After: 1) or "500". The
control file is JSON ({"claims": "hang", "informers": "pass"}), read on every request, so a
test changes faults by rewriting it. Counts per class and outcome go to the stats file.

usage: faultproxy.py --listen 127.0.0.1:PORT --upstream https://127.0.0.1:PORT --upstream-ca F
                     --cert F --key F --control F --stats F
"""
import argparse
import http.client
import http.server
import json
import os
import re
import ssl
import threading
import time
import urllib.parse

CLAIMS = re.compile(r"^/api/v1/namespaces/tenantguard-system/configmaps(/|$|\?)")
lock = threading.Lock()
stats = {}


def bump(key):
    with lock:
        stats[key] = stats.get(key, 0) + 1
        tmp = ARGS.stats + ".tmp"
        with open(tmp, "w") as f:
            json.dump(stats, f)
        os.replace(tmp, ARGS.stats)


def mode_for(cls):
    try:
        with open(ARGS.control) as f:
            return json.load(f).get(cls, "pass")
    except (OSError, ValueError):
        return "pass"


def classify(method, path):
    u = urllib.parse.urlsplit(path)
    q = urllib.parse.parse_qs(u.query)
    if method in ("POST", "PUT", "DELETE", "PATCH") and CLAIMS.match(u.path):
        return "claims"
    if method == "GET" and (q.get("watch") == ["true"] or q.get("watch") == ["1"] or
                            "limit" in q or "resourceVersion" in q):
        return "informers"
    return None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        cls = classify(self.command, self.path)
        mode = mode_for(cls) if cls else "pass"
        if cls:
            bump(f"{cls}:{mode}")
            bump(f"{cls}:{mode}:{self.command}")   # e.g. a claim's create apart from a release
        if mode == "hang":
            # Hold the connection until the client gives up (or 120 s).
            self.connection.settimeout(120)
            try:
                self.rfile.read(1)
            except OSError:
                pass
            self.close_connection = True
            return
        if mode in ("429", "500"):
            code = int(mode)
            text = json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                               "message": "injected by faultproxy", "code": code,
                               "reason": "TooManyRequests" if code == 429 else "InternalError"})
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(text)))
            if code == 429:
                self.send_header("Retry-After", "1")
            self.end_headers()
            self.wfile.write(text.encode())
            return
        up = http.client.HTTPSConnection(UP.hostname, UP.port, context=UPCTX, timeout=600)
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("host", "connection", "content-length",
                                        "accept-encoding")}
        try:
            up.request(self.command, self.path, body=body, headers=headers)
            r = up.getresponse()
            self.send_response(r.status)
            for k, v in r.getheaders():
                if k.lower() not in ("transfer-encoding", "content-length", "connection"):
                    self.send_header(k, v)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            # A stream of the class (a watch) is cut once its class is faulted, so the client
            # has to come back through the fault: looked at every second.
            done = threading.Event()

            def cutter():
                while not done.wait(1.0):
                    if mode_for(cls) != "pass":
                        bump(f"{cls}:cut")
                        for sk in (up.sock, self.connection):
                            try:
                                sk.shutdown(2)
                            except (OSError, AttributeError):
                                pass
                        return
            if cls:
                threading.Thread(target=cutter, daemon=True).start()
            while True:
                try:
                    chunk = r.read1(65536)
                except (OSError, http.client.HTTPException):
                    self.close_connection = True
                    done.set()
                    return
                if not chunk:
                    break
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            done.set()
        except OSError:
            self.close_connection = True
        finally:
            up.close()

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = handle_any


def main():
    global ARGS, UP, UPCTX
    p = argparse.ArgumentParser()
    for a in ("--listen", "--upstream", "--upstream-ca", "--cert", "--key", "--control",
              "--stats"):
        p.add_argument(a, required=True)
    ARGS = p.parse_args()
    UP = urllib.parse.urlsplit(ARGS.upstream)
    UPCTX = ssl.create_default_context(cafile=ARGS.upstream_ca)
    host, port = ARGS.listen.rsplit(":", 1)
    srv = http.server.ThreadingHTTPServer((host, int(port)), Handler)
    srv.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(ARGS.cert, ARGS.key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    bump("started")
    srv.serve_forever()


if __name__ == "__main__":
    main()
