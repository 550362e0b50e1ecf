package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vobox-operator/vobox-operator/hack/lab/labstatus"
)

func cmdUp(o *options) error {
	began := time.Now()
	if err := preflight(); err != nil {
		return err
	}
	var plans []hostPlan
	var topology string
	switch {
	case o.topology != "" && o.hosts != 0:
		return usagef("up takes --topology seed or --hosts N, not both")
	case o.topology == "seed":
		plans, topology = seedTopology(), "seed"
	case o.topology != "":
		return usagef("unknown topology %q (known: seed)", o.topology)
	case o.hosts != 0:
		var err error
		if plans, err = scaledTopology(o.hosts); err != nil {
			return err
		}
		topology = fmt.Sprintf("hosts=%d", o.hosts)
	default:
		return usagef("up needs --topology seed or --hosts N")
	}
	if err := validateNet(o.net); err != nil {
		return err
	}
	prof, err := resolveProfile(o)
	if err != nil {
		return err
	}
	cs := csHostOf(plans)
	for i := range plans {
		if prof.Dirac == labstatus.DiracV9 {
			plans[i].components = v9Components(plans[i].components)
		}
		if prof.MySQL == labstatus.MySQLSystem {
			// The journal move is a /opt/dirac/mysql affair of DIRAC's own
			// MySQL; a system MariaDB keeps its log with its data.
			plans[i].innodbMove = false
		}
	}
	p := labPaths{o.dir}
	for _, f := range []string{p.labJSON(), p.hostsDir()} {
		if _, err := os.Stat(f); err == nil {
			return fmt.Errorf("%s already holds a lab (%s exists): run \"lab down --dir %s\" first", p.dir, f, p.dir)
		}
	}

	l := &labstatus.Lab{Dir: p.dir, Net: o.net, Topology: topology, User: labUser, Profile: prof, Files: labstatus.Files{
		PrivateKey: p.privateKey(), PublicKey: p.publicKey(), KnownHosts: p.knownHosts(),
		Secret: p.secret(), Intervention: p.intervention(), Ledger: p.ledger(),
	}}
	for i, pl := range plans {
		hp := p.host(pl.name)
		h := labstatus.LabHost{
			Name: pl.name, Address: hostAddress(o.net, i), Port: sshPort, Roles: pl.roles,
			Dir: hp.dir, EventLog: hp.events(), InnodbLogMove: pl.innodbMove,
			Components: []labstatus.LabComponent{},
		}
		for _, r := range pl.roles {
			if r == labstatus.RoleDatabase {
				h.Database = true
			}
		}
		for _, c := range pl.components {
			sys, comp, _ := strings.Cut(c, "_")
			h.Components = append(h.Components, labstatus.LabComponent{
				Name: c, System: sys, Component: comp, Kind: componentKind(c),
				RunitDir: diracRoot + "/runit/" + sys + "/" + comp,
			})
		}
		l.Hosts = append(l.Hosts, h)
	}
	if err := checkPortsFree(l.Hosts); err != nil {
		return err
	}
	acct, err := ensureAccount()
	if err != nil {
		return err
	}

	fail := func(err error) error {
		if o.keepOnFailure {
			return fmt.Errorf("%w (lab left in %s for inspection: --keep-on-failure)", err, p.dir)
		}
		if _, derr := downLab(p); derr != nil {
			return fmt.Errorf("%w (and cleaning up failed: %v)", err, derr)
		}
		return err
	}
	if err := os.MkdirAll(p.hostsDir(), 0o755); err != nil {
		return fail(err)
	}
	// The hosts' folders live on a tmpfs: a lab writes and later deletes
	// tens of thousands of small files, which a busy disk (with discard)
	// turns into minutes; in memory it takes milliseconds, and down is an
	// unmount.
	if err := syscall.Mount("vobox-lab", p.hostsDir(), "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "mode=755"); err != nil {
		return fail(fmt.Errorf("failed to mount a tmpfs on %s: %w", p.hostsDir(), err))
	}
	if err := os.Chmod(p.dir, 0o755); err != nil {
		return fail(err)
	}
	if err := installTools(p); err != nil {
		return fail(err)
	}
	if err := installProfileTools(p, prof); err != nil {
		return fail(err)
	}
	if err := writeSudoers(p); err != nil {
		return fail(err)
	}
	if err := os.WriteFile(p.ledger(), nil, 0o644); err != nil {
		return fail(err)
	}
	if err := os.Chown(p.ledger(), acct.uid, acct.gid); err != nil {
		return fail(err)
	}
	machine, _ := os.Hostname()
	client, err := newKeyPair("vobox-lab@" + machine)
	if err != nil {
		return fail(err)
	}
	if err := writeKeyPair(client, p.privateKey()); err != nil {
		return fail(err)
	}
	template := ""
	for _, h := range l.Hosts {
		if h.Database {
			if prof.MySQL == labstatus.MySQLSystem {
				mysqlAcct, lerr := lookupUser(mysqlUser)
				if lerr != nil {
					return fail(fmt.Errorf("--mysql system needs the %s account (Debian's mariadb-server creates it): %w", mysqlUser, lerr))
				}
				template, err = ensureMariaDBTemplate(mysqlAcct, mysqlUser)
			} else {
				template, err = ensureMariaDBTemplate(acct, labUser)
			}
			if err != nil {
				return fail(err)
			}
			break
		}
	}
	if err := parallel(l.Hosts, 8, func(h labstatus.LabHost) error {
		_, err := provisionHost(p, h, acct, template, prof, cs, client.public)
		return err
	}); err != nil {
		return fail(fmt.Errorf("failed to create the hosts: %w", err))
	}
	if err := writeKnownHosts(p, l.Hosts); err != nil {
		return fail(err)
	}
	if err := writeSecret(p); err != nil {
		return fail(err)
	}
	if err := writeIntervention(p, l); err != nil {
		return fail(err)
	}
	if err := writeLabJSON(p, l); err != nil {
		return fail(err)
	}
	provisioned := time.Since(began)

	// Each host's power supervisor starts its init; they boot together.
	if err := parallel(l.Hosts, 32, func(h labstatus.LabHost) error {
		_, err := spawnInit(p, h.Name)
		return err
	}); err != nil {
		return fail(err)
	}
	timeout := o.timeout
	if timeout == 0 {
		timeout = 60*time.Second + time.Duration(len(l.Hosts))*300*time.Millisecond
	}
	if err := waitReady(l, l.Hosts, true, timeout); err != nil {
		return fail(err)
	}
	l.CreatedAt = time.Now().UTC()
	if err := writeLabJSON(p, l); err != nil {
		return fail(err)
	}
	fmt.Printf("lab up: %d hosts (%s, dirac %s, runit %s, mysql %s) on %s.0.1-%s in %.1fs (files %.1fs, boot %.1fs)\n", len(l.Hosts), topology,
		prof.Dirac, prof.Runit, prof.MySQL, o.net, l.Hosts[len(l.Hosts)-1].Address, time.Since(began).Seconds(), provisioned.Seconds(), (time.Since(began) - provisioned).Seconds())
	fmt.Printf("  dir          %s\n  key          %s\n  known_hosts  %s\n  secret       %s\n  intervention %s\n  ssh          ssh -i %s -o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes %s@%s\n",
		p.dir, p.privateKey(), p.knownHosts(), p.secret(), p.intervention(), p.privateKey(), p.knownHosts(), labUser, l.Hosts[0].Address)
	return nil
}

func writeLabJSON(p labPaths, l *labstatus.Lab) error {
	b, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(p.labJSON(), append(b, '\n'), 0o644)
}

// checkPortsFree fails when a host's address:22 cannot be bound: another lab
// with the same --net, or an sshd listening on 0.0.0.0:22.
func checkPortsFree(hosts []labstatus.LabHost) error {
	var mu sync.Mutex
	var taken []string
	var firstErr error
	_ = parallel(hosts, 32, func(h labstatus.LabHost) error {
		addr := net.JoinHostPort(h.Address, strconv.Itoa(h.Port))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			mu.Lock()
			taken = append(taken, addr)
			if firstErr == nil {
				firstErr = err
			}
			mu.Unlock()
			return nil
		}
		return ln.Close()
	})
	if len(taken) > 0 {
		sort.Strings(taken)
		if len(taken) > 5 {
			taken = append(taken[:5], fmt.Sprintf("and %d more", len(taken)-5))
		}
		return fmt.Errorf("cannot listen on %s (%v): another lab uses the same --net (pick another, e.g. --net 127.42), "+
			"or an sshd listens on 0.0.0.0:22 (stop it: /etc/init.d/ssh stop; hack/install-deps.sh does this)",
			strings.Join(taken, ", "), firstErr)
	}
	return nil
}

// parallel runs fn for every host with at most n at once and returns the
// errors joined.
func parallel(hosts []labstatus.LabHost, n int, fn func(labstatus.LabHost) error) error {
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	sem := make(chan struct{}, n)
	for _, h := range hosts {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fn(h); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", h.Name, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// waitReady waits until every host is booted and accepts an SSH login and,
// with components, every component runs and every mysqld answers.
func waitReady(l *labstatus.Lab, hosts []labstatus.LabHost, components bool, timeout time.Duration) error {
	p := labPaths{l.Dir}
	pr, err := newProber(p, 2*time.Second)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	pending := map[string]labstatus.LabHost{}
	for _, h := range hosts {
		pending[h.Name] = h
	}
	sshOK := map[string]bool{}
	why := map[string]string{}
	for {
		byNS := procsByNS(allProcs())
		var probe []labstatus.LabHost
		now := time.Now()
		for name, h := range pending {
			hs, err := hostStatus(p, h, byNS, now, statusOptions{})
			if err != nil {
				return err
			}
			reasons := []string{}
			if !hs.Booted {
				reasons = append(reasons, "init not running (see "+p.host(name).bootLog()+")")
			}
			if components {
				for _, c := range hs.Components {
					if c.State != labstatus.StateRun {
						reasons = append(reasons, c.Name+" "+c.State)
					}
				}
				if h.Database && !hs.MySQLD.Running {
					reasons = append(reasons, "mysqld not running")
				} else if h.Database && len(labstatus.Filter(mustEvents(h.EventLog), labstatus.EventMySQLDStart, "")) == 0 {
					reasons = append(reasons, "mysqld not answering yet")
				}
			}
			if !sshOK[name] {
				probe = append(probe, h)
			}
			why[name] = strings.Join(reasons, ", ")
		}
		for name, err := range pr.loginAll(probe) {
			if err == nil {
				sshOK[name] = true
			} else {
				why[name] = strings.TrimPrefix(why[name]+", ssh: "+err.Error(), ", ")
			}
		}
		for name := range pending {
			if sshOK[name] && why[name] == "" {
				delete(pending, name)
			}
		}
		if len(pending) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			var lines []string
			for _, name := range sortedKeys(pending) {
				lines = append(lines, fmt.Sprintf("  %s: %s", name, why[name]))
			}
			return fmt.Errorf("%d host(s) not ready after %s:\n%s", len(pending), timeout, strings.Join(lines, "\n"))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func mustEvents(path string) []labstatus.Event {
	ev, _ := labstatus.ReadEvents(path)
	return ev
}
