#!/bin/sh
# A helm post-renderer for the e2e suite: the chart's webhook configurations with their
# Service reference swapped for https://127.0.0.1:PORT<path> (no kube-proxy or cluster DNS
# here), on install and upgrade alike; everything else passes through untouched.
#   helm install ... --post-renderer tests/e2e/tools/webhook_url.sh --post-renderer-args PORT
exec sed -E "s|^( *)service: \{name: tenantguard, namespace: tenantguard-system, path: (/[a-z]+), port: [0-9]+\}|\1url: https://127.0.0.1:$1\2|"
