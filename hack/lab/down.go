package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"time"
)

func cmdDown(o *options) error {
	if err := checkRoot(); err != nil {
		return err
	}
	began := time.Now()
	n, err := downLab(labPaths{o.dir})
	if err != nil {
		return err
	}
	if n < 0 {
		fmt.Printf("lab down: no lab in %s\n", o.dir)
		return nil
	}
	fmt.Printf("lab down: %d hosts stopped, %s removed in %.1fs\n", n, o.dir, time.Since(began).Seconds())
	return nil
}

// downLab kills every process of the lab (each host's init, which takes its
// whole PID namespace with it, then anything else still referring to the
// lab folder), detaches any mount under the folder and removes it. It
// returns the number of hosts that were running, or -1 if there was no lab.
func downLab(p labPaths) (int, error) {
	if _, err := os.Stat(p.dir); errors.Is(err, os.ErrNotExist) {
		return -1, nil
	}
	if !looksLikeLab(p) {
		return 0, fmt.Errorf("%s does not look like a lab folder (no lab.json, hosts/ or bin/host/): not removing it", p.dir)
	}
	var inits []int
	ents, _ := os.ReadDir(p.hostsDir())
	for _, e := range ents {
		if init, ok := readInit(p.host(e.Name())); ok {
			inits = append(inits, init.pid)
		}
	}
	if err := killAndWait(inits, 8*time.Second); err != nil {
		return 0, err
	}
	// Anything else: a process started by hand inside a host has died with
	// its namespace, but one started outside with a path into the lab has not.
	var rest []int
	for _, pr := range procsReferencing(p.dir) {
		rest = append(rest, pr.pid)
	}
	if err := killAndWait(rest, 5*time.Second); err != nil {
		return 0, err
	}
	mounts := mountsUnder(p.dir)
	sort.Sort(sort.Reverse(sort.StringSlice(mounts)))
	for _, m := range mounts {
		if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil {
			return 0, fmt.Errorf("failed to unmount %s: %w", m, err)
		}
	}
	if err := os.Remove(p.sudoersPath()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("failed to remove the lab's sudoers rule: %w", err)
	}
	if err := os.RemoveAll(p.dir); err != nil {
		return 0, fmt.Errorf("failed to remove %s: %w", p.dir, err)
	}
	return len(inits), nil
}

// looksLikeLab guards RemoveAll against a mistyped --dir.
func looksLikeLab(p labPaths) bool {
	for _, f := range []string{p.labJSON(), p.hostsDir(), p.toolsDir()} {
		if _, err := os.Stat(f); err == nil {
			return true
		}
	}
	// An empty folder (a failed up before anything was written) is fine too.
	ents, err := os.ReadDir(p.dir)
	return err == nil && len(ents) == 0 || err == nil && onlyLabFiles(ents)
}

func onlyLabFiles(ents []os.DirEntry) bool {
	known := map[string]bool{"bin": true, "id_ed25519": true, "id_ed25519.pub": true, "ledger.log": true,
		"known_hosts": true, "secret.yaml": true, "intervention.yaml": true, "shared": true}
	for _, e := range ents {
		if !known[filepath.Base(e.Name())] {
			return false
		}
	}
	return true
}
