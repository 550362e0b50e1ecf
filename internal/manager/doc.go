// Package manager holds the manager's start-up decisions that are worth a
// test: which namespaces it watches (--watch-namespaces), where its host
// locks live (--lock-namespace, by default its own namespace), and the check
// that the lock namespace exists before anything starts, so that a typo
// stops the process with a message naming it instead of every Lease write
// failing later.
package manager
