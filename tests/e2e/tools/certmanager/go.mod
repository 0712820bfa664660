// Pins cert-manager for its CRDs (deploy/crds, read from the module cache by
// tests/e2e/run_helm.sh); nothing is built from it (test infrastructure only).
module tenantguard.test/e2e/tools/certmanager

go 1.26.0

require github.com/cert-manager/cert-manager v1.21.2
