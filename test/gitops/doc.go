// Package gitops holds the tests of how GitOps tools read a VOBoxIntervention:
// kstatus (Flux's health checks, `kubectl wait`) and Argo CD's health check,
// config/argocd/health.lua. An intervention is driven through its life on a
// real API server with the real CRD, its status written as the controller
// derives it, and each tool must call every stage what a pipeline gating on
// it needs: in progress, done, failed or held. It has no non-test code.
package gitops
