package e2e

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/internal/remote"
)

// TestBadInput applies interventions that are valid for the API server but
// wrong for the hosts, one at a time on one lab. Each must stop with a
// condition reason and a message naming what is wrong, and nothing on any
// host may change: not a component, a link, mysqld, the journal, the
// maintenance ledger or a line of any host's event log.
func TestBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "127.40", "--topology", "seed")
	e.useSharedOperator()
	ctx := context.Background()
	knownHosts, err := os.ReadFile(e.lab.Files.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	const keyMarker = "NotAKeyButSecretMaterialXYZ"
	secret := func(name string, data map[string][]byte) {
		t.Helper()
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: name, Labels: map[string]string{remote.SecretLabelSSHKey: remote.SecretLabelSSHKeyValue}},
			Type: corev1.SecretTypeSSHAuth, Data: data}
		if err := suite.k8s.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	labKey, err := os.ReadFile(e.lab.Files.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	secret("no-known-hosts", map[string][]byte{corev1.SSHAuthPrivateKey: labKey})
	secret("bad-key", map[string][]byte{
		corev1.SSHAuthPrivateKey: []byte("-----BEGIN OPENSSH PRIVATE KEY-----\n" + keyMarker + "\n-----END OPENSSH PRIVATE KEY-----\n"),
		"known_hosts":            knownHosts,
	})
	conflictHost, conflictLink := "volhcb15", ""
	h15, _ := e.lab.Host(conflictHost)
	conflictLink = h15.Components[0].Name

	cases := []struct {
		name   string
		setup  func()
		undo   func()
		mutate func(*diracv1.VOBoxIntervention)
		// reason is Stalled's; words must all be in its message.
		reason string
		words  []string
		// hostReason, when set, is the failed host's own reason.
		host, hostReason string
	}{
		{
			name:   "missing-secret",
			mutate: func(v *diracv1.VOBoxIntervention) { v.Spec.SSH.SecretRef.Name = "no-such-secret" },
			reason: diracv1.ReasonSecretNotFound, words: []string{"no-such-secret", "does not exist"},
		},
		{
			name:   "secret-without-known-hosts",
			mutate: func(v *diracv1.VOBoxIntervention) { v.Spec.SSH.SecretRef.Name = "no-known-hosts" },
			reason: diracv1.ReasonSecretInvalid, words: []string{"no-known-hosts", "known_hosts"},
		},
		{
			name:   "unparsable-key",
			mutate: func(v *diracv1.VOBoxIntervention) { v.Spec.SSH.SecretRef.Name = "bad-key" },
			reason: diracv1.ReasonSecretInvalid, words: []string{"bad-key", "ssh-privatekey"},
		},
		{
			name: "unreachable-address",
			mutate: func(v *diracv1.VOBoxIntervention) {
				v.Spec.Hosts = append(v.Spec.Hosts, diracv1.HostSpec{Name: "ghost", Address: "127.40.255.254", Roles: []diracv1.Role{diracv1.RoleAgents}})
				v.Spec.Strategy.StepTimeout = metav1.Duration{Duration: 3 * time.Second}
			},
			reason: diracv1.ReasonUnreachable, words: []string{"ghost", "127.40.255.254"},
			host: "ghost", hostReason: diracv1.ReasonUnreachable,
		},
		{
			name:   "dirac-root-missing",
			mutate: func(v *diracv1.VOBoxIntervention) { v.Spec.Layout.DiracRoot = "/opt/dirac-nowhere" },
			reason: diracv1.ReasonDiracRootMissing, words: []string{"/opt/dirac-nowhere", "volhcb"},
		},
		{
			name: "mysql-server-missing",
			mutate: func(v *diracv1.VOBoxIntervention) {
				v.Spec.Layout.MysqlServer = "/opt/dirac/pro/mysql/nowhere/mysql.server"
			},
			reason: diracv1.ReasonMysqlServerMissing, words: []string{"/opt/dirac/pro/mysql/nowhere/mysql.server", "volhcb21"},
		},
		{
			name: "startup-save-conflict",
			setup: func() {
				e.labCmd("ssh", conflictHost, "mkdir -p /opt/dirac/startup-save && ln -s /opt/dirac/runit/Elsewhere/Other /opt/dirac/startup-save/"+conflictLink)
			},
			undo: func() {
				e.labCmd("ssh", conflictHost, "rm -f /opt/dirac/startup-save/"+conflictLink)
			},
			reason: diracv1.ReasonStartupSaveConflict, words: []string{conflictHost, conflictLink, "/opt/dirac/runit/Elsewhere/Other", "nothing was moved"},
			host: conflictHost, hostReason: diracv1.ReasonStartupSaveConflict,
		},
	}
	tried, rejected := 0, 0
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ce := *e
			ce.t = t
			if c.setup != nil {
				c.setup()
			}
			if c.undo != nil {
				defer c.undo()
			}
			before, ledgerBefore := ce.snapshot()
			vbi := ce.labIntervention(func(v *diracv1.VOBoxIntervention) {
				fast(v)
				v.Name = c.name
				if c.mutate != nil {
					c.mutate(v)
				}
			})
			tried++
			ce.create(vbi)
			start := time.Now()
			v := ce.waitCondition(vbi.Name, diracv1.StalledCondition, metav1.ConditionTrue, c.reason, time.Minute)
			stalled := meta.FindStatusCondition(v.Status.Conditions, diracv1.StalledCondition)
			t.Logf("FIGURE bad input %s: Stalled %s after %.1fs: %s", c.name, stalled.Reason, time.Since(start).Seconds(), stalled.Message)
			for _, w := range c.words {
				if !strings.Contains(stalled.Message, w) {
					t.Errorf("Stalled message does not name %q: %s", w, stalled.Message)
				}
			}
			if ready := meta.FindStatusCondition(v.Status.Conditions, diracv1.ReadyCondition); ready.Status != metav1.ConditionFalse {
				t.Errorf("Ready = %s, want False", ready.Status)
			}
			if c.host != "" {
				if hs := hostStatus(v, c.host); hs.Reason != c.hostReason || hs.Phase != diracv1.HostFailed {
					t.Errorf("host %s: phase %s reason %s, want Failed %s", c.host, hs.Phase, hs.Reason, c.hostReason)
				}
			}
			if strings.Contains(stalled.Message, keyMarker) || strings.Contains(stalled.Message, "PRIVATE KEY") {
				t.Errorf("the message shows key material: %s", stalled.Message)
			}
			// Nothing may happen later either.
			time.Sleep(2 * time.Second)
			after, ledgerAfter := ce.snapshot()
			changed := diffSnapshots(before, after, ledgerBefore, ledgerAfter)
			for _, d := range changed {
				t.Errorf("a host changed: %s", d)
			}
			if len(changed) == 0 && !t.Failed() {
				rejected++
			}
			ce.deleteAndWait(vbi.Name, time.Minute)
		})
	}

	// An exclude entry naming no component is a warning: the intervention
	// goes on, and the host's message says so.
	t.Run("exclude-not-found", func(t *testing.T) {
		ce := *e
		ce.t = t
		tried++
		vbi := ce.labIntervention(func(v *diracv1.VOBoxIntervention) {
			fast(v)
			v.Name = "exclude-not-found"
			onlyHosts(v, "volhcb20")
			v.Spec.Hosts[0].Exclude = []string{"NoSuch_Component"}
		})
		ce.create(vbi)
		v := ce.waitReady(vbi.Name, 2*time.Minute)
		hs := hostStatus(v, "volhcb20")
		t.Logf("FIGURE bad input exclude-not-found: Ready, host message: %s", hs.Message)
		if !strings.Contains(hs.Message, "NoSuch_Component") {
			t.Errorf("volhcb20's message does not warn about NoSuch_Component: %q", hs.Message)
		} else {
			rejected++ // warned about, as it must be
		}
	})

	// No key material anywhere the operator writes: events and its log.
	events := e.kubectl("get", "events.events.k8s.io", "-n", e.ns, "-o", "yaml")
	if strings.Contains(events, keyMarker) {
		t.Errorf("an event shows key material")
	}
	if raw, err := os.ReadFile(e.op.logPath); err == nil && strings.Contains(string(raw), keyMarker) {
		t.Errorf("the operator log shows key material")
	}
	t.Logf("FIGURE bad inputs: %d tried, %d rejected or warned about with nothing changed", tried, rejected)
}
