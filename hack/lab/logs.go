package main

import (
	"fmt"
	"os"
	"syscall"

	"github.com/vobox-operator/vobox-operator/hack/lab/labstatus"
)

// cmdEvents prints a host's event log, as lines or as a JSON array.
func cmdEvents(o *options) error {
	name, err := o.oneHost()
	if err != nil {
		return err
	}
	l, err := loadLab(o.dir)
	if err != nil {
		return err
	}
	h, err := labHost(l, name)
	if err != nil {
		return err
	}
	ev, err := labstatus.ReadEvents(h.EventLog)
	if err != nil {
		return err
	}
	if o.kind != "" {
		ev = labstatus.Filter(ev, o.kind, "")
	}
	if o.json {
		if ev == nil {
			ev = []labstatus.Event{}
		}
		b, err := labstatus.MarshalIndent(ev)
		if err != nil {
			return err
		}
		_, err = os.Stdout.Write(b)
		return err
	}
	for _, e := range ev {
		fmt.Println(e.String())
	}
	return nil
}

// cmdLedger prints the sms ledger, as lines or as a JSON array.
func cmdLedger(o *options) error {
	if len(o.positional) != 0 {
		return usagef("ledger takes no arguments")
	}
	l, err := loadLab(o.dir)
	if err != nil {
		return err
	}
	entries, err := labstatus.ReadLedger(l.Files.Ledger)
	if err != nil {
		return err
	}
	if o.json {
		if entries == nil {
			entries = []labstatus.LedgerEntry{}
		}
		b, err := labstatus.MarshalIndent(entries)
		if err != nil {
			return err
		}
		_, err = os.Stdout.Write(b)
		return err
	}
	for _, e := range entries {
		fmt.Printf("%s %s sms %s\n", e.Time.UTC().Format(labstatus.TimeFormat), e.Host, shellJoin(e.Args))
	}
	return nil
}

// cmdSSH replaces itself with ssh to the host as the lab user, with the
// lab's key and known_hosts and strict host-key checking.
func cmdSSH(o *options) error {
	if len(o.positional) < 1 {
		return usagef("ssh takes HOST [COMMAND...]")
	}
	l, err := loadLab(o.dir)
	if err != nil {
		return err
	}
	h, err := labHost(l, o.positional[0])
	if err != nil {
		return err
	}
	args := append(sshArgs(l, h), o.positional[1:]...)
	return syscall.Exec("/usr/bin/ssh", append([]string{"ssh"}, args...), os.Environ())
}

// sshArgs are the options to log in to a lab host with OpenSSH's client.
func sshArgs(l *labstatus.Lab, h labstatus.LabHost) []string {
	return []string{"-i", l.Files.PrivateKey, "-o", "UserKnownHostsFile=" + l.Files.KnownHosts,
		"-o", "StrictHostKeyChecking=yes", "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
		"-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR", "-p", fmt.Sprint(h.Port), labUser + "@" + h.Address}
}
