// Package deploy holds the tests of the operator's install: what `make
// build-installer` renders from config/ is accepted by a real API server,
// and the RBAC it grants lets the manager do its work and no more. It has no
// non-test code.
package deploy
