// Package sim is a host simulator behind remote.Executor and
// remote.Connector, for benchmarks of the controller alone at thousands of
// hosts: no process is started and nothing touches a disk.
//
// It interprets the procedure's remote operations by the catalogue of
// internal/procedure, not by reading script text: a script operation is
// told by its $0 (the name the catalogue's builder gives it, learnt from the
// builders at init), a program operation by the argv prefix its builder
// makes (runsvctrl d|k|u, rm -f --, mysql.server stop|start, the maintenance
// templates the simulation is configured with), and the step session by
// procedure.Session's argument protocol (a count, that many arguments, …,
// "--", the probe's arguments). Whatever it does not recognise exits 127, as
// a remote shell would, and is recorded as unknown.
//
// Each Host keeps what the procedure reads and changes: runit services (up,
// down, wanted down) with pids and uptimes, the links of startup and
// startup-save, manifests, mysqld, the InnoDB journal, maintenance and the
// components' logs. Its answers are in the formats the procedure's parsers
// read (probe.sh's report, runsvstat lines, the step session's exit markers,
// links.sh's moved/exists/absent, logscan.sh's findings).
//
// Time comes from a Model drawn per host from a seed: an RTT (lognormal,
// median 40 ms, p99 300 ms), an SSH handshake of 3 to 5 RTTs, a session of
// about 2 RTTs, the time a service or an agent (its cycle) takes to stop,
// runsvdir's 5 s rescan, mysqld's start and stop. The same seed gives the
// same hosts. A Clock with a time scale lets tests run the model faster than
// real time; the benchmark runs it at scale 1, since the controller's own
// timeouts and requeues are real time.
//
// The simulation is checked against internal/hostsim (the real scripts run
// by dash and bash over a fake filesystem) by a differential test: the same
// scenarios, driven by the procedure's decide functions, must leave both in
// the same state through the same decisions.
package sim
