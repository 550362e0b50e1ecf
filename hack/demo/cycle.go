package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/hack/lab/labstatus"
)

// demoCycle is the token of the demo's kernel-patch round.
const demoCycle = "kernel-demo-1"

// runCycle is `make demo-cycle`: the lab's hosts patched by a rolling
// cycle (spec.cycle, spec.reboot, strategy.rolling), each host going Down,
// rebooting itself (sudo /sbin/reboot) and coming back Up on its own, two
// at a time at most per role, Agents first and Database last; then the
// hosts are checked: every one rebooted once, every link back.
func (d *demo) runCycle(ctx context.Context, before *labstatus.Status) error {
	manifest, err := d.writeCycle()
	if err != nil {
		return err
	}
	d.say("kubectl apply -f secret.yaml -f kernel-patch.yaml   (state: Up, cycle: %s, reboot, rolling maxUnavailable 2)", demoCycle)
	if err := d.kubectl(ctx, "apply", "-f", d.lab.Files.Secret, "-f", manifest); err != nil {
		return err
	}
	got, err := d.follow(ctx, "kernel-patch")
	if err != nil {
		return err
	}
	if got.Status.ObservedCycle != demoCycle {
		d.fail("status.observedCycle = %q, want %q", got.Status.ObservedCycle, demoCycle)
	}
	d.checkUp(ctx, before)
	st, err := d.labStatus(ctx)
	if err != nil {
		return err
	}
	for _, h := range st.Hosts {
		orig, _ := before.Host(h.Name)
		if h.BootID == "" || h.BootID == orig.BootID {
			d.fail("%s did not reboot: boot id %s", h.Name, h.BootID)
		}
	}
	d.say("Checked on the hosts: every boot id new")
	d.cycleSummary(got)
	return nil
}

// writeCycle writes the lab's intervention as a rolling kernel-patch cycle.
func (d *demo) writeCycle() (string, error) {
	raw, err := os.ReadFile(d.lab.Files.Intervention)
	if err != nil {
		return "", err
	}
	vbi := &diracv1.VOBoxIntervention{}
	if err := yaml.Unmarshal(raw, vbi); err != nil {
		return "", fmt.Errorf("failed to read the lab's intervention: %w", err)
	}
	vbi.Name = "kernel-patch"
	vbi.Spec.State = diracv1.StateUp
	vbi.Spec.Reason = "kernel patch"
	vbi.Spec.Cycle = demoCycle
	vbi.Spec.Reboot = &diracv1.RebootSpec{Command: []string{"sudo", "/sbin/reboot"}, Timeout: metav1.Duration{Duration: 5 * time.Minute}}
	vbi.Spec.Strategy.Rolling = &diracv1.RollingSpec{MaxUnavailable: 2}
	vbi.Spec.Checks.ComponentUptime = metav1.Duration{Duration: 3 * time.Second}
	out, err := yaml.Marshal(vbi)
	if err != nil {
		return "", err
	}
	path := filepath.Join(d.dir, "kernel-patch.yaml")
	return path, os.WriteFile(path, out, 0o644)
}

// hostPhases prints each host whose phase changed, for a live view of a
// rolling cycle: which hosts are out, which reboot, which are back.
func hostPhases(v *diracv1.VOBoxIntervention, seen map[string]string, start time.Time) []string {
	var lines []string
	for _, hs := range v.Status.Hosts {
		phase := string(hs.Phase)
		if hs.Phase == diracv1.HostWorking && len(hs.CompletedTiers) > 0 {
			phase += " (" + hs.CompletedTiers[len(hs.CompletedTiers)-1] + " done)"
		}
		if seen[hs.Name] == phase {
			continue
		}
		seen[hs.Name] = phase
		lines = append(lines, fmt.Sprintf("    [%5.1fs] host %-10s %s", time.Since(start).Seconds(), hs.Name, phase))
	}
	return lines
}

// cycleSummary is each host's round: its reboot and its tiers.
func (d *demo) cycleSummary(v *diracv1.VOBoxIntervention) {
	fmt.Fprintln(d.out, "\nSummary")
	w := tabwriter.NewWriter(d.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "HOST\tROLES\tREBOOTED AT\tBOOT ID BEFORE\tTIERS")
	for _, h := range v.Spec.Hosts {
		for _, hs := range v.Status.Hosts {
			if hs.Name != h.Name {
				continue
			}
			at := "-"
			if hs.RebootedAt != nil {
				at = hs.RebootedAt.UTC().Format(time.TimeOnly)
			}
			roles := make([]string, len(h.Roles))
			for i, r := range h.Roles {
				roles[i] = string(r)
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\n", h.Name, strings.Join(roles, ","), at, hs.BootID, len(hs.CompletedTiers))
		}
	}
	_ = w.Flush()
	var rebooted []string
	for _, hs := range v.Status.Hosts {
		if hs.RebootedAt != nil {
			rebooted = append(rebooted, hs.Name)
		}
	}
	slices.Sort(rebooted)
	if v.Status.StartedAt != nil && v.Status.CompletedAt != nil {
		fmt.Fprintf(d.out, "%d hosts rebooted, round %s complete in %s\n", len(rebooted), v.Status.ObservedCycle,
			v.Status.CompletedAt.Sub(v.Status.StartedAt.Time).Round(100*time.Millisecond))
	}
}
