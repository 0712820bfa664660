#!/usr/bin/env python3
"""tcplb: a small L4 TCP load balancer for the e2e tests (test infrastructure, stdlib only).

It plays the Service/kube-proxy in front of several webhook replicas: every accepted
connection goes to one backend, chosen per connection (round-robin or at random; one that
refuses is skipped for the next), and bytes
are piped both ways untouched, so TLS passes through end to end.

    tcplb.py --listen 127.0.0.1:PORT --backend 127.0.0.1:P1 --backend 127.0.0.1:P2
             [--mode rr|random] [--stats FILE]

Per-backend counts ("BACKEND connections=N failed=N open=N") are written to FILE after every
connection change (atomically) and printed on stdout at SIGTERM/SIGINT, then it exits 0.
SIGUSR1 closes every open connection (a test sends it while the client is idle).
"""
import argparse
import asyncio
import os
import random
import signal
import sys


def hostport(s):
    host, _, port = s.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"want HOST:PORT, got {s!r}")
    return host, int(port)


class Balancer:
    def __init__(self, backends, mode, stats):
        self.backends = backends
        self.mode = mode
        self.stats_file = stats
        self.next = 0
        self.count = {b: {"connections": 0, "failed": 0, "open": 0} for b in backends}
        self.writers = set()   # both ends of every open connection, for drop()

    def drop(self):
        """SIGUSR1: closes every connection, so the client's next request opens a new one
        (and the round-robin moves on) instead of reusing the replica it last talked to."""
        for w in list(self.writers):
            w.close()

    def pick(self):
        if self.mode == "random":
            return random.choice(self.backends)
        b = self.backends[self.next % len(self.backends)]
        self.next += 1
        return b

    def report(self):
        return "".join(f"{h}:{p} connections={c['connections']} failed={c['failed']} open={c['open']}\n"
                       for (h, p), c in self.count.items())

    def write_stats(self):
        if not self.stats_file:
            return
        tmp = self.stats_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(self.report())
        os.replace(tmp, self.stats_file)

    async def handle(self, creader, cwriter):
        # A backend that refuses (a killed replica) is skipped for the next one, as a Service
        # stops sending to a pod that is gone.
        first = self.pick()
        i0 = self.backends.index(first)
        for k in range(len(self.backends)):
            b = self.backends[(i0 + k) % len(self.backends)]
            c = self.count[b]
            try:
                breader, bwriter = await asyncio.open_connection(*b)
                break
            except OSError:
                c["failed"] += 1
                self.write_stats()
        else:
            cwriter.close()
            return
        c["connections"] += 1
        c["open"] += 1
        self.writers.update((bwriter, cwriter))
        self.write_stats()

        async def pipe(reader, writer):
            try:
                while True:
                    data = await reader.read(65536)
                    if not data:
                        break
                    writer.write(data)
                    await writer.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                # half-close: pass the EOF on, let the other direction finish
                try:
                    if writer.can_write_eof():
                        writer.write_eof()
                except (ConnectionError, OSError):
                    pass

        try:
            await asyncio.gather(pipe(creader, bwriter), pipe(breader, cwriter))
        finally:
            for w in (bwriter, cwriter):
                w.close()
                self.writers.discard(w)
            c["open"] -= 1
            self.write_stats()


async def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--listen", type=hostport, required=True)
    ap.add_argument("--backend", type=hostport, action="append", required=True)
    ap.add_argument("--mode", choices=("rr", "random"), default="rr")
    ap.add_argument("--stats")
    a = ap.parse_args()
    lb = Balancer(a.backend, a.mode, a.stats)
    server = await asyncio.start_server(lb.handle, *a.listen, reuse_address=True)
    lb.write_stats()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, lb.drop)
    await stop.wait()
    server.close()
    lb.write_stats()
    sys.stdout.write(lb.report())
    sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(main())
