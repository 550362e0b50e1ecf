// Package labstatus holds the data the vobox lab (hack/lab) writes and
// prints, so that Go tests, the demo and the benchmarks decode it with the
// same types the lab encodes it with:
//
//   - Lab is lab.json, written by "lab up": the hosts, their addresses, roles
//     and components, and the paths of the files the lab generated.
//   - Status is the output of "lab status --json": each host's real state as
//     read from the host (runit supervise files, startup links, mysqld, the
//     InnoDB journal location, maintenance, recent events).
//   - Event is one line of a host's event log (hosts/<name>/events.log), and
//     LedgerEntry one call of the sms command recorded in ledger.log.
//
// The package has no dependency outside the standard library and performs no
// I/O except in the Read* helpers, which only read files.
package labstatus
