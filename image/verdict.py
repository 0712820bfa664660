#!/usr/bin/env python3
"""One /validate review against $TG_URL (the container): an Ingress in NAMESPACE for HOST.

    verdict.py allow|RULE NAMESPACE HOST [INGRESS_CLASS]     exit 0 when the verdict is that
"""
import json
import os
import ssl
import sys
import urllib.request

want, ns, host = sys.argv[1:4]
cls = sys.argv[4] if len(sys.argv) > 4 else "higress"
ing = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
       "metadata": {"name": "image-check", "namespace": ns},
       "spec": {"ingressClassName": cls, "rules": [{"host": host, "http": {"paths": [
           {"path": "/", "pathType": "Prefix",
            "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}}
review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
    "uid": "image-1", "operation": "CREATE", "namespace": ns, "name": "image-check",
    "kind": {"group": "networking.k8s.io", "version": "v1", "kind": "Ingress"},
    "resource": {"group": "networking.k8s.io", "version": "v1", "resource": "ingresses"},
    "userInfo": {"username": "alice", "groups": ["system:authenticated"]}, "object": ing}}
ctx = ssl.create_default_context()
ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE   # loopback, the test's own pair
req = urllib.request.Request(os.environ["TG_URL"] + "/validate", json.dumps(review).encode(),
                             {"Content-Type": "application/json"})
resp = json.load(urllib.request.urlopen(req, context=ctx, timeout=10))["response"]
msg = resp.get("status", {}).get("message", "")
print(resp["allowed"], msg)
ok = resp["allowed"] if want == "allow" else (not resp["allowed"] and msg.startswith("[%s] " % want))
sys.exit(0 if ok else 1)
