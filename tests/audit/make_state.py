#!/usr/bin/env python3
# make_state: a cluster state with one planted violation of every rule that applies to an
# existing object, and a clean look-alike of each; writes the state and the expected report.
import json
import subprocess
import sys
import base64
import os

out_dir = sys.argv[1]


def cert(name, san, key_of=None):
    """A self-signed P-256 certificate for `san`; key_of: use that certificate's key instead."""
    key, crt = f"{out_dir}/{name}.key", f"{out_dir}/{name}.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt,
                    "-days", "90", "-subj", "/CN=" + san, "-addext",
                    "subjectAltName=DNS:" + san], check=True, capture_output=True)
    if key_of:
        key = f"{out_dir}/{key_of}.key"
    return {"tls.crt": base64.b64encode(open(crt, "rb").read()).decode(),
            "tls.key": base64.b64encode(open(key, "rb").read()).decode()}


objects, expected, bad = [], [], set()
clock = [0]


def add(obj, rule=None, when=None):
    """Adds obj with the next creationTimestamp (or `when`); rule: the violation expected."""
    clock[0] += 1
    t = when if when is not None else clock[0]
    obj["metadata"]["creationTimestamp"] = "2026-01-01T00:%02d:%02dZ" % (t // 60, t % 60)
    objects.append(obj)
    if rule:
        m = obj["metadata"]
        expected.append((t, len(objects), obj["kind"], m.get("namespace", ""), m["name"], rule))
        bad.add(len(objects) - 1)


def ns(name, rule=None):
    add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}, rule)


def ing(name, namespace, host, rule=None, when=None, cls="higress", ann=None,
        backend="web", port=8080):
    meta = {"name": name, "namespace": namespace}
    if ann:
        meta["annotations"] = ann
    spec = {"rules": [{"host": host, "http": {"paths": [{"path": "/", "pathType": "Prefix",
            "backend": {"service": {"name": backend, "port": {"number": port}}}}]}}]}
    if cls:
        spec["ingressClassName"] = cls
    add({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta,
         "spec": spec}, rule, when)


def svc(name, namespace, spec, rule=None):
    add({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name,
         "namespace": namespace}, "spec": spec}, rule)


def secret(name, namespace, data, rule=None):
    add({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name,
         "namespace": namespace}, "type": "kubernetes.io/tls", "data": data}, rule)


def tenant(name, spec, rule=None):
    add({"apiVersion": "tenantguard.io/v1alpha1", "kind": "Tenant",
         "metadata": {"name": name}, "spec": spec}, rule)


for n in ("tenant1-gateway", "tenant2-gateway", "higress-system", "default", "ghost"):
    ns(n)
ns("ghost-gateway", "namespace-tenant")
ing("own", "tenant1-gateway", "api.tenant1.aigw.example.com")
ing("foreign", "tenant1-gateway", "api.tenant2.aigw.example.com", "host-ownership")
# The later of two colliding Ingresses is reported, whatever the order in the file.
ing("second", "tenant2-gateway", "app.newco.com", "host-collision", when=200)
ing("first", "tenant1-gateway", "app.newco.com", when=100)
ing("same-owner", "tenant1-gateway", "app.newco.com", when=300)   # same owner: no collision
ing("badhost", "tenant1-gateway", "a..b.customer.com", "host-invalid")
ing("class", "tenant1-gateway", "web.tenant1.aigw.example.com", "ingress-class", cls="nginx")
ing("dest-ok", "tenant1-gateway", "d.tenant1.aigw.example.com",
    ann={"higress.io/destination": "tenant1-service.default.svc.cluster.local:8080"})
ing("dest", "tenant1-gateway", "e.tenant1.aigw.example.com", "backend-namespace",
    ann={"higress.io/destination": "db.tenant2-gateway.svc.cluster.local:5432"})
ing("unified-ok", "higress-system", "*.tenant1.aigw.example.com", cls=None,
    backend="tenant1-gateway", port=80)
ing("unified", "higress-system", "app.unknown.com", "entry-route", cls=None,
    backend="tenant1-gateway", port=80)
add({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
     "metadata": {"name": "route", "namespace": "tenant2-gateway"},
     "spec": {"hostnames": ["x.customer.com"]}}, "host-ownership")
add({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
     "metadata": {"name": "route-ok", "namespace": "tenant2-gateway"},
     "spec": {"hostnames": ["x.client.com"]}})
ports = [{"port": 80, "targetPort": 8080}]
svc("web", "tenant1-gateway", {"type": "ClusterIP", "ports": ports})
svc("node", "tenant1-gateway", {"type": "NodePort", "ports": ports}, "service-type")
svc("ips", "default", {"type": "ClusterIP", "ports": ports, "externalIPs": ["203.0.113.7"]},
    "service-external-ips")
svc("ext-ok", "tenant1-gateway", {"type": "ExternalName", "externalName": "example.com"})
svc("ext", "tenant1-gateway", {"type": "ExternalName",
    "externalName": "db.tenant2-gateway.svc.cluster.local"}, "service-external-name")
secret("own-tls", "tenant1-gateway", cert("own", "*.customer.com"))
secret("foreign-tls", "tenant1-gateway", cert("foreign", "*.client.com"), "tls-secret-hosts")
secret("broken-tls", "tenant1-gateway", cert("broken", "*.customer.com", key_of="own"),
       "tls-secret")
tenant("tenant4", {"customDomains": ["*.newco.org"]})
tenant("tenant3", {"customDomains": ["*.customer.com"]}, "host-ownership")
tenant("tenant5", {"customDomains": ["*.other.org"], "colour": "blue"}, "request-invalid")

json.dump({"apiVersion": "v1", "kind": "List", "items": objects},
          open(f"{out_dir}/state.json", "w"), indent=1)
# The look-alikes alone: nothing to report.
json.dump({"apiVersion": "v1", "kind": "List",
           "items": [o for i, o in enumerate(objects) if i not in bad]},
          open(f"{out_dir}/clean.json", "w"), indent=1)
with open(f"{out_dir}/expected.txt", "w") as f:
    for _, _, kind, namespace, name, rule in sorted(expected):
        f.write("%s %s%s%s %s\n" % (kind, namespace, "/" if namespace else "", name, rule))
