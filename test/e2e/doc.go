// Package e2e holds the end-to-end tests: a real API server (envtest), the
// operator built and run as its own process, and labs of simulated VOBoxes
// (hack/lab: real sshd, runit and MariaDB in namespaces). Every claim is
// checked from the hosts' real state, event logs and maintenance ledger:
// the power stop itself, crash-resume under SIGKILL (chaos), SSH and host
// faults, and bad input at run time. It has no non-test code.
package e2e
