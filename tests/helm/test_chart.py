#!/usr/bin/env python3
"""The Helm chart, offline: lint, the committed kustomize base, every certificate mode,
non-default values, the schema, the optional objects, the alerts and the dashboard.

    test_chart.py BUILD_DIR HELM [PROMTOOL]

Prints "ok NAME" / "FAIL NAME: why" and ends with "N passed, N failed".
"""
import base64
import filecmp
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
CHART = os.path.join(ROOT, "manifests", "chart", "tenantguard")
BUILD, HELM = sys.argv[1], sys.argv[2]
PROMTOOL = sys.argv[3] if len(sys.argv) > 3 else ""
TG = os.path.join(BUILD, "tenantguard")
NS = "tenantguard-system"
passed = failed = 0
tmp = tempfile.mkdtemp(prefix="tenantguard-helm.")


def ok(name):
    global passed
    passed += 1
    print("ok", name)


def bad(name, why):
    global failed
    failed += 1
    print("FAIL %s: %s" % (name, why))


def check(name, cond, why=""):
    if cond:
        ok(name)
    else:
        bad(name, why or "condition false")


def helm(*args, ns=NS):
    return subprocess.run([HELM, *args] + (["--namespace", ns] if ns else []),
                          capture_output=True, text=True)


def template(*sets, values=None, api_versions=(), ns=NS):
    args = ["template", "tenantguard", CHART]
    for s in sets:
        args += ["--set", s]
    if values is not None:
        path = os.path.join(tmp, "values-%d.yaml" % (passed + failed))
        with open(path, "w") as f:
            yaml.safe_dump(values, f)
        args += ["-f", path]
    for a in api_versions:
        args += ["--api-versions", a]
    r = helm(*args, ns=ns)
    if r.returncode != 0:
        raise RuntimeError(r.stderr.strip())
    return [d for d in yaml.safe_load_all(r.stdout) if d]


def find(docs, kind, name=None):
    got = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    return got[0] if len(got) == 1 else None


def kinds(docs):
    return sorted(d["kind"] for d in docs)


def openssl(*args, data=None):
    return subprocess.run(["openssl", *args], input=data, capture_output=True)


def webhooks(docs):
    return [find(docs, "ValidatingWebhookConfiguration"), find(docs, "MutatingWebhookConfiguration")]


# --- lint --------------------------------------------------------------------------------
for mode in ("self", "certManager", "existing"):
    r = helm("lint", "--strict", CHART, "--set", "certificates.mode=" + mode)
    check("helm lint --strict (certificates.mode=%s)" % mode, r.returncode == 0, r.stdout + r.stderr)
r = helm("lint", "--strict", CHART, "--set", "metrics.dashboard.enabled=true,networkPolicy.enabled=true,"
         "metrics.serviceMonitor.enabled=true,metrics.prometheusRule.enabled=true")
check("helm lint --strict (every optional object)", r.returncode == 0, r.stdout + r.stderr)

# --- the committed kustomize base is the chart's rendering ----------------------------------
out = os.path.join(tmp, "base")
r = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "helm", "render_base.py"), HELM, out],
                   capture_output=True, text=True)
if r.returncode != 0:
    bad("render the kustomize base", r.stderr)
else:
    rendered = sorted(os.listdir(out))
    cmp = filecmp.dircmp(out, os.path.join(ROOT, "manifests"))
    stale = sorted(cmp.diff_files + cmp.left_only)
    check("the committed manifests/ equal `helm template` of the chart (run `make manifests`)",
          not stale and not cmp.funny_files, "differs: %s" % ", ".join(stale))
    extra = sorted(f for f in cmp.right_only if f.endswith(".yaml"))
    check("manifests/ holds no YAML the chart does not render", not extra, ", ".join(extra))


def entry_of_base(d):
    """(the entry namespace of d/configmap.yaml's config, the namespaces d/webhooks.yaml's
    matchConditions compare request.namespace with)."""
    with open(os.path.join(d, "configmap.yaml")) as f:
        cfg = yaml.safe_load([x for x in yaml.safe_load_all(f) if x][0]["data"]["config.yaml"])
    with open(os.path.join(d, "webhooks.yaml")) as f:
        exprs = [mc["expression"] for w in yaml.safe_load_all(f) if w
                 for wh in w["webhooks"] for mc in wh.get("matchConditions", [])]
    return cfg.get("entryNamespace"), sorted({n for e in exprs for n in re.findall(r'request\.namespace == "([^"]*)"', e)})


ent, named = entry_of_base(os.path.join(ROOT, "manifests"))
check("the committed base: the Secret matchCondition names the entry namespace of its own config",
      ent is not None and named == [ent], (ent, named))
out2 = os.path.join(tmp, "base-edge")
r = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "helm", "render_base.py"), HELM, out2,
                    "--set", "config.entryNamespace=edge"], capture_output=True, text=True)
ent, named = entry_of_base(out2) if r.returncode == 0 else (r.stderr, None)
hard = [f for f in os.listdir(out2) if "higress-system" in open(os.path.join(out2, f)).read()] if r.returncode == 0 else []
check("a base rendered for entryNamespace edge: config and matchCondition both say edge, "
      "no higress-system left", ent == "edge" and named == ["edge"] and not hard, (ent, named, hard))
with open(os.path.join(ROOT, "manifests", "deployment.yaml")) as f:
    bdep = yaml.safe_load(f)
bc = bdep["spec"]["template"]["spec"]["containers"][0]
bvols = {v["name"]: v for v in bdep["spec"]["template"]["spec"]["volumes"]}
check("the committed base asks for the apiserver's client certificate (--client-ca from ConfigMap "
      "tenantguard-client-ca, --client-cert-handshake) with the probes on the health port",
      "--client-ca=/etc/tenantguard/client-ca/ca.crt" in bc["args"] and "--client-cert-handshake" in bc["args"] and
      bvols.get("client-ca", {}).get("configMap", {}).get("name") == "tenantguard-client-ca" and
      bc["readinessProbe"]["httpGet"]["port"] == "health" and bc["livenessProbe"]["httpGet"]["port"] == "health",
      bc["args"])

# --- defaults: self-generated certificates ---------------------------------------------------
docs = template()
check("defaults render the base's kinds and the self-generated Secret",
      kinds(docs) == sorted(["ClusterRole", "ClusterRoleBinding", "ClusterRole", "ClusterRoleBinding",
                             "ConfigMap", "Deployment",
                             "MutatingWebhookConfiguration", "PodDisruptionBudget", "Role", "RoleBinding",
                             "Secret", "Service", "ServiceAccount", "ValidatingWebhookConfiguration"]),
      kinds(docs))
sec = find(docs, "Secret", "tenantguard-tls")
vwc, mwc = webhooks(docs)
if sec is None or vwc is None or mwc is None:
    bad("self mode: Secret and webhook configurations", "missing")
else:
    data = {k: base64.b64decode(v) for k, v in sec["data"].items()}
    check("self mode: a kubernetes.io/tls Secret with ca.crt, tls.crt, tls.key",
          sec["type"] == "kubernetes.io/tls" and sorted(data) == ["ca.crt", "tls.crt", "tls.key"], sorted(data))
    bundles = [w["webhooks"][0]["clientConfig"].get("caBundle") for w in (vwc, mwc)]
    check("self mode: both webhooks trust exactly the Secret's CA",
          bundles == [sec["data"]["ca.crt"]] * 2, bundles)
    for k in data:
        with open(os.path.join(tmp, k), "wb") as f:
            f.write(data[k])
    r = openssl("verify", "-CAfile", os.path.join(tmp, "ca.crt"), os.path.join(tmp, "tls.crt"))
    check("self mode: the serving certificate chains to the CA", r.returncode == 0, r.stderr)
    r = openssl("x509", "-noout", "-ext", "subjectAltName", "-in", os.path.join(tmp, "tls.crt"))
    sans = set(re.findall(r"DNS:([^,\s]+)", r.stdout.decode()))
    check("self mode: SANs are the Service's names",
          {"tenantguard.tenantguard-system.svc", "tenantguard.tenantguard-system.svc.cluster.local"} <= sans, sans)
    r = subprocess.run(["bash", "-c", 'diff <(openssl x509 -noout -pubkey -in "$1") '
                        '<(openssl pkey -pubout -in "$2")', "-", os.path.join(tmp, "tls.crt"),
                        os.path.join(tmp, "tls.key")], capture_output=True)
    check("self mode: tls.key is the certificate's key", r.returncode == 0, r.stdout)
    r = openssl("x509", "-noout", "-checkend", str(3000 * 86400), "-in", os.path.join(tmp, "tls.crt"))
    check("self mode: certificates.self.days (3650) is the validity", r.returncode == 0)
    again = find(template(), "Secret", "tenantguard-tls")
    check("self mode: without a cluster to look up, each render makes a new CA (upgrades keep it: e2e)",
          again["data"]["ca.crt"] != sec["data"]["ca.crt"])
dep = find(docs, "Deployment")
pod = dep["spec"]["template"]["spec"]
c = pod["containers"][0]
check("defaults: 2 replicas, image tenantguard:<appVersion>, non-root, read-only root",
      dep["spec"]["replicas"] == 2 and c["image"] == "tenantguard:0.1.0" and
      pod["securityContext"]["runAsNonRoot"] is True and c["securityContext"]["readOnlyRootFilesystem"] is True,
      (dep["spec"]["replicas"], c["image"]))
check("defaults: topology spread over nodes, no anti-affinity, no priority class",
      pod["topologySpreadConstraints"][0]["topologyKey"] == "kubernetes.io/hostname" and
      "affinity" not in pod and "priorityClassName" not in pod)
vw = vwc["webhooks"][0]
check("defaults: validate Fail/5s, mutate Ignore/5s",
      (vw["failurePolicy"], vw["timeoutSeconds"], mwc["webhooks"][0]["failurePolicy"],
       mwc["webhooks"][0]["timeoutSeconds"]) == ("Fail", 5, "Ignore", 5))
for w in (vwc, mwc):
    sel = w["webhooks"][0]["namespaceSelector"]["matchExpressions"][0]
    check("defaults: %s leaves out kube-system and tenantguard-system by metadata.name" % w["kind"],
          sel["key"] == "kubernetes.io/metadata.name" and sel["operator"] == "NotIn" and
          sel["values"] == ["kube-system", NS], sel)
mc = vw.get("matchConditions", [])
check("defaults: the validating webhook's matchCondition names the entry namespace",
      len(mc) == 1 and '"higress-system"' in mc[0]["expression"], mc)
args = c["args"]
ports = {p["name"]: p["containerPort"] for p in c["ports"]}
envs = {e["name"]: e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") for e in c["env"]}
check("defaults: probes and /metrics on the health port 8081 of the pod's address (HTTPS, "
      "--health-listen=[$(POD_IP)]:8081), reviews on 8443",
      "--health-listen=[$(POD_IP)]:8081" in args and envs.get("POD_IP") == "status.podIP" and
      ports == {"https": 8443, "health": 8081} and
      c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health", "scheme": "HTTPS"} and
      c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health", "scheme": "HTTPS"}, (args, ports, envs))
check("defaults: no client certificate asked (clientAuth off: the apiserver presents one only "
      "when configured to)", not any(a.startswith("--client-ca") or a == "--client-cert-handshake" for a in args) and
      "client-ca" not in {v["name"] for v in pod["volumes"]}, args)
svc = find(docs, "Service", "tenantguard")
check("defaults: the Service has the health port as `metrics` besides 443",
      {(p["name"], p["port"], p["targetPort"]) for p in svc["spec"]["ports"]} ==
      {("https", 443, "https"), ("metrics", 8081, "health")}, svc["spec"]["ports"])
ca = find(template("clientAuth.enabled=true", "clientAuth.caConfigMap=apiserver-ca", "clientAuth.caKey=bundle.pem",
                   "health.port=9443"), "Deployment")["spec"]["template"]["spec"]
cc = ca["containers"][0]
check("clientAuth.enabled: --client-ca from the named ConfigMap and key, --client-cert-handshake; health.port",
      "--client-ca=/etc/tenantguard/client-ca/bundle.pem" in cc["args"] and "--client-cert-handshake" in cc["args"] and
      {"name": "client-ca", "configMap": {"name": "apiserver-ca"}} in ca["volumes"] and
      {"name": "client-ca", "mountPath": "/etc/tenantguard/client-ca", "readOnly": True} in cc["volumeMounts"] and
      "--health-listen=[$(POD_IP)]:9443" in cc["args"] and
      {"name": "health", "containerPort": 9443} in cc["ports"], cc)
r = helm("template", "tenantguard", CHART, "--set", "health.port=8443")
check("values: health.port 8443 (the webhook port) is refused by the schema", r.returncode != 0, r.stdout[-200:])
cm = find(docs, "ConfigMap", "tenantguard-config")
cfg_path = os.path.join(tmp, "config.yaml")
with open(cfg_path, "w") as f:
    f.write(cm["data"]["config.yaml"])
r = subprocess.run([TG, "check-config", cfg_path], capture_output=True, text=True)
check("defaults: tenantguard check-config accepts the ConfigMap's config.yaml", r.returncode == 0,
      r.stdout + r.stderr)
check("defaults: the ConfigMap's config is the binary's built-in default",
      yaml.safe_load(cm["data"]["config.yaml"]) == yaml.safe_load(
          subprocess.run(["sed", "-n", "/^const char config_default_yaml/,/;$/p",
                          os.path.join(ROOT, "webhook", "config_load.c")], capture_output=True,
                         text=True).stdout.split("=", 1)[1].replace('"\n\t"', "").strip(' \t\n";')
          .encode().decode("unicode_escape")))

# --- fallbackPolicies: the VAP fallback, rendered by the leader from the ConfigMap's config ---
def fallback_rbac(docs):
    role = find(docs, "ClusterRole", "tenantguard-fallback-policies")
    rb = find(docs, "ClusterRoleBinding", "tenantguard-fallback-policies")
    return role, rb

args = find(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
role, rb = fallback_rbac(docs)
check("fallbackPolicies (default on): serve --fallback-policies, the webhook's exclusions only",
      "--fallback-policies" in args and not any(a.startswith("--fallback-exclude") for a in args), args)
check("fallbackPolicies: a ClusterRole to apply and prune the policies and bindings and to own them, bound to the ServiceAccount",
      role is not None and role["rules"] == [{"apiGroups": ["admissionregistration.k8s.io"],
      "resources": ["validatingadmissionpolicies", "validatingadmissionpolicybindings"],
      "verbs": ["get", "create", "patch", "update", "delete"]},
      {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"],
       "resourceNames": ["tenantguard-fallback-policies"], "verbs": ["get"]}] and rb is not None and
      rb["subjects"] == [{"kind": "ServiceAccount", "name": "tenantguard", "namespace": NS}], role)
r = subprocess.run([TG, "render", "policies", "--config", cfg_path, "--output", "json"],
                   capture_output=True, text=True)
pol = json.loads(r.stdout)["items"] if r.returncode == 0 else []
vwc_ns = webhooks(docs)[0]["webhooks"][0]["namespaceSelector"]["matchExpressions"][0]["values"]
check("fallbackPolicies: from the ConfigMap's config, every binding leaves out what the validating webhook does",
      pol and all(b["spec"]["matchResources"]["namespaceSelector"]["matchExpressions"][0]["values"] == vwc_ns
                  for b in pol if b["kind"] == "ValidatingAdmissionPolicyBinding"), r.stderr)
off = template("fallbackPolicies.enabled=false")
args = find(off, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
check("fallbackPolicies.enabled=false: no --fallback-policies and no ClusterRole for it",
      not any(a.startswith("--fallback") for a in args) and fallback_rbac(off) == (None, None), args)
ex = template("webhooks.validate.excludeNamespaces={monitoring,batch}")
args = find(ex, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
check("fallbackPolicies: the validating webhook's extra exclusions go to the fallback's bindings too",
      [a for a in args if a.startswith("--fallback-exclude")] ==
      ["--fallback-exclude-namespace=monitoring", "--fallback-exclude-namespace=batch"], args)

# --- certManager ---------------------------------------------------------------------------
docs = template("certificates.mode=certManager")
iss, crt = find(docs, "Issuer", "tenantguard-selfsigned"), find(docs, "Certificate", "tenantguard-serving")
vwc, mwc = webhooks(docs)
check("certManager: a self-signed Issuer and a Certificate, no Secret of the chart's",
      iss is not None and crt is not None and find(docs, "Secret") is None and iss["spec"] == {"selfSigned": {}},
      kinds(docs))
if crt is not None:
    s = crt["spec"]
    check("certManager: the Certificate writes tenantguard-tls for the Service's names",
          s["secretName"] == "tenantguard-tls" and "tenantguard.tenantguard-system.svc" in s["dnsNames"] and
          s["issuerRef"] == {"kind": "Issuer", "name": "tenantguard-selfsigned"} and
          s["privateKey"]["rotationPolicy"] == "Always", s)
check("certManager: both webhooks have cert-manager.io/inject-ca-from and no caBundle",
      all(w["metadata"].get("annotations", {}).get("cert-manager.io/inject-ca-from") ==
          NS + "/tenantguard-serving" and "caBundle" not in w["webhooks"][0]["clientConfig"]
          for w in (vwc, mwc)))
docs = template("certificates.mode=certManager", "certificates.certManager.issuerRef.kind=ClusterIssuer",
                "certificates.certManager.issuerRef.name=internal-ca")
crt = find(docs, "Certificate")
check("certManager with issuerRef: no Issuer of the chart's, the Certificate names the ClusterIssuer",
      find(docs, "Issuer") is None and crt["spec"]["issuerRef"] == {"kind": "ClusterIssuer", "name": "internal-ca"})

# --- existing --------------------------------------------------------------------------------
bundle = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nnot checked here\n-----END CERTIFICATE-----\n").decode()
docs = template("certificates.mode=existing", "certificates.existing.secretName=my-tls",
                "certificates.existing.caBundle=" + bundle)
vwc, mwc = webhooks(docs)
vol = [v for v in find(docs, "Deployment")["spec"]["template"]["spec"]["volumes"] if v["name"] == "tls"][0]
check("existing: no Secret, no cert-manager objects, the pods mount the named Secret",
      find(docs, "Secret") is None and find(docs, "Certificate") is None and
      vol["secret"]["secretName"] == "my-tls", kinds(docs))
check("existing: both webhooks carry the given caBundle",
      [w["webhooks"][0]["clientConfig"]["caBundle"] for w in (vwc, mwc)] == [bundle] * 2)

# --- non-default values --------------------------------------------------------------------
docs = template(values={
    "replicaCount": 3, "priorityClassName": "system-cluster-critical", "podAntiAffinity": "hard",
    "image": {"repository": "registry.example/tenantguard", "tag": "0.1.1"},
    "resources": {"requests": {"cpu": "200m", "memory": "128Mi"}},
    "extraArgs": ["--threads=8"],
    "webhooks": {"validate": {"failurePolicy": "Ignore", "timeoutSeconds": 10,
                              "excludeNamespaces": ["monitoring"], "secretMatchConditions": False},
                 "mutate": {"timeoutSeconds": 3}},
    "service": {"port": 8443}, "pdb": {"enabled": False},
    "config": {"systemDomain": "gw.corp.example", "entryNamespace": "edge", "tenants": [{"name": "acme"}],
               "unregisteredDomains": "deny"}})
dep = find(docs, "Deployment")
pod = dep["spec"]["template"]["spec"]
c = pod["containers"][0]
anti = pod.get("affinity", {}).get("podAntiAffinity", {}).get("requiredDuringSchedulingIgnoredDuringExecution")
check("values: replicas, image, priorityClassName, resources, extra args",
      dep["spec"]["replicas"] == 3 and c["image"] == "registry.example/tenantguard:0.1.1" and
      pod["priorityClassName"] == "system-cluster-critical" and
      c["resources"] == {"requests": {"cpu": "200m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "256Mi"}} and
      c["args"][-1] == "--threads=8", c)
check("values: podAntiAffinity hard is a required term on the node", anti is not None and
      anti[0]["topologyKey"] == "kubernetes.io/hostname")
check("values: pdb.enabled=false renders no PodDisruptionBudget", find(docs, "PodDisruptionBudget") is None)
vwc, mwc = webhooks(docs)
vw, mw = vwc["webhooks"][0], mwc["webhooks"][0]
check("values: failurePolicy, timeoutSeconds and the Service port per webhook",
      (vw["failurePolicy"], vw["timeoutSeconds"], mw["timeoutSeconds"], vw["clientConfig"]["service"]["port"]) ==
      ("Ignore", 10, 3, 8443))
check("values: extra exclusions add to kube-system and the release namespace (which stay)",
      vw["namespaceSelector"]["matchExpressions"][0]["values"] == ["kube-system", NS, "monitoring"] and
      mw["namespaceSelector"]["matchExpressions"][0]["values"] == ["kube-system", NS])
check("values: secretMatchConditions=false sends every Secret", "matchConditions" not in vw)
cm = yaml.safe_load(find(docs, "ConfigMap", "tenantguard-config")["data"]["config.yaml"])
check("values: config keys given replace the default's, lists whole, the rest is kept (helm's merge)",
      cm["systemDomain"] == "gw.corp.example" and cm["entryNamespace"] == "edge" and
      cm["tenants"] == [{"name": "acme"}] and cm["unregisteredDomains"] == "deny" and
      cm["tenantNamespace"] == "{tenant}-gateway", cm)
cm = yaml.safe_load(find(template(values={"config": {"admins": None}}), "ConfigMap")["data"]["config.yaml"])
check("values: a config key set to null is dropped (admins: the binary's default then)", "admins" not in cm, cm)
mc = template("config.entryNamespace=edge")
mcx = webhooks(mc)[0]["webhooks"][0]["matchConditions"][0]["expression"]
check("values: the matchCondition follows config.entryNamespace", '"edge"' in mcx and "higress-system" not in mcx)
mc = template(values={"config": {"entryNamespace": None}})
mcx = webhooks(mc)[0]["webhooks"][0]["matchConditions"][0]["expression"]
cm = yaml.safe_load(find(mc, "ConfigMap", "tenantguard-config")["data"]["config.yaml"])
check("values: a config without entryNamespace (the binary's default) keeps higress-system in the matchCondition",
      "entryNamespace" not in cm and '"higress-system"' in mcx, mcx)
ann = [find(template("config.gatewayPort=81"), "Deployment"), find(template(), "Deployment")]
check("values: a config change changes the pods' checksum/config (a rollout on upgrade)",
      ann[0]["spec"]["template"]["metadata"]["annotations"]["checksum/config"] !=
      ann[1]["spec"]["template"]["metadata"]["annotations"]["checksum/config"])

# --- values the schema or the templates refuse ---------------------------------------------------
for why, sets in (("failurePolicy Maybe", ["webhooks.validate.failurePolicy=Maybe"]),
                  ("timeoutSeconds 31", ["webhooks.validate.timeoutSeconds=31"]),
                  ("an unknown certificate mode", ["certificates.mode=vault"]),
                  ("an unknown top-level key", ["replicas=3"]),
                  ("podAntiAffinity sometimes", ["podAntiAffinity=sometimes"]),
                  ("a config without tenants", ["config.tenants=null"]),
                  ("replicaCount 0", ["replicaCount=0"])):
    try:
        template(*sets)
        bad("refused: " + why, "rendered")
    except RuntimeError as e:
        check("refused: " + why, "values don't meet the specifications of the schema" in str(e) or
              "certificates.mode must be" in str(e), str(e))
try:
    template(ns="tenantguard")
    bad("refused: a namespace other than tenantguard-system", "rendered")
except RuntimeError as e:
    check("refused: a namespace other than tenantguard-system", "must be installed into the namespace "
          "tenantguard-system" in str(e), str(e))

# --- optional objects ----------------------------------------------------------------------------
opt = ["metrics.serviceMonitor.enabled=true", "metrics.prometheusRule.enabled=true"]
check("ServiceMonitor and PrometheusRule: not rendered while their CRDs are absent",
      find(template(*opt), "ServiceMonitor") is None and find(template(*opt), "PrometheusRule") is None)
docs = template(*opt, values={"metrics": {"prometheusRule": {"latencyBudgetSeconds": 0.025}}},
                api_versions=["monitoring.coreos.com/v1/ServiceMonitor", "monitoring.coreos.com/v1/PrometheusRule"])
sm, pr = find(docs, "ServiceMonitor"), find(docs, "PrometheusRule")
check("ServiceMonitor: rendered with the CRD, scrapes /metrics over HTTPS with the serving CA",
      sm is not None and sm["spec"]["endpoints"][0]["path"] == "/metrics" and
      sm["spec"]["endpoints"][0]["tlsConfig"]["ca"]["secret"] == {"name": "tenantguard-tls", "key": "ca.crt"} and
      sm["spec"]["endpoints"][0]["port"] == "metrics")
rules = {r["alert"]: r for g in pr["spec"]["groups"] for r in g["rules"]} if pr else {}
want = {"TenantguardCertificateExpiresSoon", "TenantguardConfigReloadFailing", "TenantguardLiveStateNotReady",
        "TenantguardWebhookLatencyHigh", "TenantguardApiserverErrors"}
check("PrometheusRule: rendered with the CRD, with the five required alerts", want <= set(rules), sorted(rules))
if rules:
    check("PrometheusRule: the latency budget and the 14-day expiry come from values",
          "> 0.025" in rules["TenantguardWebhookLatencyHigh"]["expr"] and
          "< 14 * 86400" in rules["TenantguardCertificateExpiresSoon"]["expr"] and
          rules["TenantguardLiveStateNotReady"]["for"] == "1m")
    # promtool on the rules as the defaults render them: syntax, then behaviour on series
    # like the ones /metrics exposes (tests/helm/alerts_test.yaml).
    defaults = find(template(*opt, api_versions=["monitoring.coreos.com/v1/PrometheusRule"]), "PrometheusRule")
    with open(os.path.join(tmp, "tenantguard-rules.yaml"), "w") as f:
        yaml.safe_dump(defaults["spec"], f)
    shutil.copy(os.path.join(ROOT, "tests", "helm", "alerts_test.yaml"), tmp)
    if PROMTOOL:
        r = subprocess.run([PROMTOOL, "check", "rules", os.path.join(tmp, "tenantguard-rules.yaml")],
                           capture_output=True, text=True)
        check("promtool check rules accepts the PrometheusRule", r.returncode == 0 and
              "SUCCESS: %d rules found" % len(rules) in r.stdout, r.stdout + r.stderr)
        r = subprocess.run([PROMTOOL, "test", "rules", os.path.join(tmp, "alerts_test.yaml")],
                           capture_output=True, text=True)
        check("promtool test rules: the alerts fire on failing series and not on healthy ones",
              r.returncode == 0 and "SUCCESS" in r.stdout, r.stdout + r.stderr)
docs = template("metrics.dashboard.enabled=true")
dcm = find(docs, "ConfigMap", "tenantguard-dashboard")
try:
    dash = json.loads(dcm["data"]["tenantguard.json"])
    check("dashboard: a ConfigMap labelled for Grafana's sidecar holding the dashboard JSON",
          dcm["metadata"]["labels"]["grafana_dashboard"] == "1" and dash["uid"] == "tenantguard" and
          len(dash["panels"]) >= 10)
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    exprs += [r["expr"] for r in rules.values()]
    for topic, pat in (("reviews by rule and decision", r"tenantguard_reviews_total"),
                       ("latency histogram", r"tenantguard_review_duration_seconds_bucket"),
                       ("live readiness", r"tenantguard_live_ready"), ("sync age", r"live_last_sync_age"),
                       ("claims", r"tenantguard_live_claims"), ("apiserver requests", r"apiserver_requests"),
                       ("reconciler leader", r"reconciler_leader"), ("config reloads", r"config_reload_failures"),
                       ("certificate expiry", r"tls_cert_not_after")):
        check("dashboard: a panel for " + topic, any(re.search(pat, e) for e in exprs[:-len(rules) or None]))
except (TypeError, KeyError, ValueError) as e:
    bad("dashboard: a ConfigMap with the dashboard JSON", repr(e))
docs = template("networkPolicy.enabled=true", "networkPolicy.apiserverPeers[0].ipBlock.cidr=10.0.0.0/24")
np = find(docs, "NetworkPolicy")
check("NetworkPolicy: only the listed apiserver peers reach port 8443 of the pods",
      np is not None and np["spec"]["policyTypes"] == ["Ingress"] and
      np["spec"]["ingress"] == [{"from": [{"ipBlock": {"cidr": "10.0.0.0/24"}}],
                                 "ports": [{"protocol": "TCP", "port": 8443}]}] and
      np["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "tenantguard")
np = find(template("networkPolicy.enabled=true", "networkPolicy.metricsPeers[0].namespaceSelector.matchLabels.team=obs"),
          "NetworkPolicy")
check("NetworkPolicy: the metrics peers reach the health port (8081), not the webhook port",
      np is not None and np["spec"]["ingress"] == [{"from": [{"namespaceSelector": {"matchLabels": {"team": "obs"}}}],
                                                  "ports": [{"protocol": "TCP", "port": 8081}]}], np)
np = find(template("networkPolicy.enabled=true"), "NetworkPolicy")
check("NetworkPolicy: without peers, nothing reaches the pods", np is not None and np["spec"]["ingress"] is None
      or np["spec"].get("ingress") == [], np)

# --- the README's values table is generated from values.yaml ---------------------------------
r = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "helm", "values_table.py"), "--check",
                    os.path.join(ROOT, "README.md")], capture_output=True, text=True)
check("README's values table is the one values.yaml generates (every value documented)", r.returncode == 0,
      r.stdout + r.stderr)

shutil.rmtree(tmp, ignore_errors=True)
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
