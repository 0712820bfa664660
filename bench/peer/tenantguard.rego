# SPDX-License-Identifier: Apache-2.0
#
# The peer policy bench/bench_peer.sh serves with OPA: what an operator would write in Rego
# for host ownership and first-come host collisions of Ingresses, against the same cluster
# state tenantguard indexes. It decides less than tenantguard (no namespace, backend, TLS or
# entry-route rules, no collision between two wildcards) and, like tenantguard, never scans
# the claims: every lookup is by key into data.tg (OPA's in-memory store is a map), so its
# evaluation count is the same at 0, 10k and 100k claims (bench_peer.sh prints it).
#
# data.tg.namespaces: namespace -> tenant;  data.tg.reserved: registrable domain -> tenant
# (the tenants' customDomains);  data.tg.claims: host pattern -> owner ("tenant/T" or
# "namespace/NS"), one entry per claim of the state file tenantguard loads.
package tg

system_domain := "aigw.example.com"

req := input.request

tenant := data.tg.namespaces[req.namespace]

owner := concat("/", ["tenant", tenant]) if tenant
else := concat("/", ["namespace", req.namespace])

hosts contains h if {
	some rule in req.object.spec.rules
	h := rule.host
}

hosts contains h if {
	some t in req.object.spec.tls
	some h in t.hosts
}

# "a.b.example.com" -> "b.example.com"
parent(h) := concat(".", array.slice(parts, 1, count(parts))) if parts := split(h, ".")

# The registrable domain, as the last two labels (tenantguard reads the public suffix list).
regdom(h) := concat(".", array.slice(parts, count(parts) - 2, count(parts))) if parts := split(h, ".")

is_system(h) if endswith(h, concat("", [".", system_domain]))

deny contains msg if {
	some h in hosts
	is_system(h)
	not endswith(h, concat(".", ["", tenant, system_domain]))
	msg := sprintf("[host-ownership] host '%s' belongs to another tenant or to the platform", [h])
}

deny contains msg if {
	some h in hosts
	not is_system(h)
	r := data.tg.reserved[regdom(h)]
	r != tenant
	msg := sprintf("[host-ownership] host '%s' belongs to another tenant", [h])
}

# First-come collisions: the host itself, or the wildcard one level up, held by another owner.
deny contains msg if {
	some h in hosts
	some key in [h, concat(".", ["*", parent(h)])]
	held := data.tg.claims[key]
	held != owner
	msg := sprintf("[host-collision] host '%s' overlaps a host already claimed by another tenant or namespace", [h])
}

# The default decision (POST / with the AdmissionReview as input).
review := {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response}

response := {"uid": req.uid, "allowed": true} if count(deny) == 0
else := {"uid": req.uid, "allowed": false, "status": {
	"code": 403, "reason": "Forbidden",
	"message": concat("; ", sort(deny)),
}}
