package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vobox-operator/vobox-operator/internal/testenv"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
)

var (
	// k8sClient sets up and checks objects; the plugin under test builds its
	// own client from kubeconfig, as it does for people.
	k8sClient client.Client
	// kubeconfig is a kubeconfig file for the test API server.
	kubeconfig string
	// testNow is the clock the plugin reads in tests.
	testNow = time.Date(2011, 2, 22, 8, 0, 0, 0, time.UTC)
)

// TestMain starts a real kube-apiserver and etcd with the CRD installed, so
// the plugin meets the schema's defaults and the status subresource.
func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	env, err := testenv.Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: %v\n", err)
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}()
	k8sClient = env.Client
	dir, err := os.MkdirTemp("", "kubectl-vobox-test-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	if kubeconfig, err = env.WriteKubeconfig(dir, "vobox-admin"); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: %v\n", err)
		return 1
	}
	return m.Run()
}

// result is what one plugin run printed and returned.
type result struct {
	stdout, stderr string
	code           int
}

// kv runs the plugin as `kubectl vobox ARGS --kubeconfig FILE`, output not a terminal.
func kv(t *testing.T, args ...string) result {
	t.Helper()
	return kvWith(t, kubeconfig, args...)
}

func kvWith(t *testing.T, kc string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	e := env{stdout: &out, stderr: &errOut, now: func() time.Time { return testNow }, isTerminal: func() bool { return false }}
	if len(args) > 0 {
		args = append(args, "--kubeconfig", kc)
	}
	code := run(context.Background(), args, e)
	return result{stdout: out.String(), stderr: errOut.String(), code: code}
}

func newNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "kubectl-vobox-"}}
	if err := k8sClient.Create(context.Background(), ns); err != nil {
		t.Fatalf("failed to create a namespace: %v", err)
	}
	return ns.Name
}

// createSample creates the power-stop sample in ns, as `kubectl apply` would.
func createSample(t *testing.T, ns string) *diracv1.VOBoxIntervention {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "config", "samples", "dirac_v1alpha1_voboxintervention.yaml"))
	if err != nil {
		t.Fatalf("failed to read the sample: %v", err)
	}
	vbi := &diracv1.VOBoxIntervention{}
	if err := yaml.UnmarshalStrict(data, vbi); err != nil {
		t.Fatalf("failed to parse the sample: %v", err)
	}
	vbi.Namespace = ns
	if err := k8sClient.Create(context.Background(), vbi); err != nil {
		t.Fatalf("failed to create the sample: %v", err)
	}
	return vbi
}

func fetch(t *testing.T, ns, name string) *diracv1.VOBoxIntervention {
	t.Helper()
	vbi := &diracv1.VOBoxIntervention{}
	if err := k8sClient.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, vbi); err != nil {
		t.Fatalf("failed to get %s/%s: %v", ns, name, err)
	}
	return vbi
}

// planTier is one tier of plan's output: its header and, per host, the lines
// printed under it.
type planTier struct {
	condition string
	hosts     []string
	lines     map[string][]string
}

// parsePlan splits plan's output into tiers ("N. Condition ...") and hosts
// (three spaces, then the host name).
func parsePlan(t *testing.T, out string) []planTier {
	t.Helper()
	var tiers []planTier
	host := ""
	for _, l := range strings.Split(out, "\n") {
		var n int
		var cond string
		if _, err := fmt.Sscanf(l, "%d. %s", &n, &cond); err == nil && !strings.HasPrefix(l, " ") {
			tiers = append(tiers, planTier{condition: cond, lines: map[string][]string{}})
			host = ""
			continue
		}
		if len(tiers) == 0 {
			continue
		}
		tier := &tiers[len(tiers)-1]
		switch {
		case strings.HasPrefix(l, "   ") && !strings.HasPrefix(l, "    ") && strings.Contains(l, "  ssh "):
			host = strings.Fields(l)[0]
			tier.hosts = append(tier.hosts, host)
		case host != "" && strings.HasPrefix(l, "     "):
			tier.lines[host] = append(tier.lines[host], strings.TrimSpace(l))
		}
	}
	return tiers
}

// step finds the step line of a host that starts with the step's name and
// returns its command.
func step(lines []string, name string) (string, bool) {
	for _, l := range lines {
		if rest, ok := strings.CutPrefix(l, name+" "); ok {
			return strings.TrimSpace(rest), true
		}
	}
	return "", false
}

func conditions(tiers []planTier) []string {
	var out []string
	for _, t := range tiers {
		out = append(out, t.condition)
	}
	return out
}

func TestPlanOfTheSample(t *testing.T) {
	ns := newNamespace(t)
	vbi := createSample(t, ns)
	const mysql = "/opt/dirac/pro/mysql/share/mysql/mysql.server"
	manifest := ".vobox-manifest-" + string(vbi.UID)
	services := []string{"volhcb15", "volhcb17", "volhcb19", "volhcb18"}
	databases := []string{"volhcb21", "volhcb22", "volhcb23", "volhcb24", "volhcb25", "volhcb26"}
	all := slices.Concat(services[:3], []string{"volhcb18", "volhcb20"}, databases)

	r := kv(t, "plan", "power-stop", "-n", ns)
	if r.code != 0 {
		t.Fatalf("plan exited %d: %s", r.code, r.stderr)
	}
	if strings.Contains(r.stdout, "\x1b[") {
		t.Errorf("plan coloured output that is not a terminal:\n%s", r.stdout)
	}
	if !strings.Contains(r.stdout, "Plan for voboxintervention "+ns+"/power-stop: Down, 4 tiers, 22 host steps (nothing runs)") {
		t.Errorf("plan header is wrong:\n%s", r.stdout)
	}
	tiers := parsePlan(t, r.stdout)
	if got, want := conditions(tiers), []string{"MaintenanceSet", "AgentsStopped", "ServicesStopped", "DatabasesStopped"}; !slices.Equal(got, want) {
		t.Fatalf("Down tiers = %v, want %v\n%s", got, want, r.stdout)
	}
	for i, want := range [][]string{all, {"volhcb20"}, services, databases} {
		if !slices.Equal(tiers[i].hosts, want) {
			t.Errorf("tier %s hosts = %v, want %v", tiers[i].condition, tiers[i].hosts, want)
		}
	}

	// Each host runs its own maintenance command, with the reason as one argument.
	for _, h := range all {
		if cmd, _ := step(tiers[0].lines[h], "SetMaintenance"); cmd != "sms set maintenance 'power stop' other "+h {
			t.Errorf("MaintenanceSet on %s runs %q", h, cmd)
		}
	}
	// The components tiers probe, record, stop, kill past stopTimeout and park.
	for _, tc := range []struct {
		tier  planTier
		hosts []string
	}{{tiers[1], []string{"volhcb20"}}, {tiers[2], services}} {
		for _, h := range tc.hosts {
			lines := tc.tier.lines[h]
			want := map[string]string{
				"Probe":          "vobox-probe /opt/dirac " + manifest + " '' '' '' '' 0",
				"RecordManifest": "vobox-manifest /opt/dirac/startup-save " + manifest + " MANIFEST",
				"StopComponents": "runsvctrl d /opt/dirac/startup/LINK...",
				"KillComponents": "runsvctrl k /opt/dirac/startup/LINK...",
				"ParkLinks":      "vobox-park /opt/dirac/startup /opt/dirac/startup-save LINK...",
			}
			for name, cmd := range want {
				if got, ok := step(lines, name); !ok || got != cmd {
					t.Errorf("%s on %s: %s runs %q, want %q", tc.tier.condition, h, name, got, cmd)
				}
			}
			if !slices.Contains(lines, "# for the links still running after spec.strategy.stopTimeout (2m0s)") {
				t.Errorf("%s on %s does not say when it kills:\n%s", tc.tier.condition, h, strings.Join(lines, "\n"))
			}
		}
	}
	// Databases stop with mysql.server; only volhcb21-24 move their journal.
	for i, h := range databases {
		lines := tiers[3].lines[h]
		if cmd, _ := step(lines, "StopDatabase"); cmd != mysql+" stop" {
			t.Errorf("DatabasesStopped on %s stops with %q", h, cmd)
		}
		cmd, moves := step(lines, "MoveJournal")
		if want := i < 4; moves != want {
			t.Errorf("DatabasesStopped on %s: moves the journal %v, want %v", h, moves, want)
		}
		if moves && cmd != "vobox-journal /opt/dirac/mysql/log /home/dirac/mysql-log" {
			t.Errorf("DatabasesStopped on %s moves the journal with %q", h, cmd)
		}
	}

	// The Up half, before flipping: reverse order, settle delay, restore and check.
	r = kv(t, "plan", "power-stop", "--state", "Up", "-n", ns)
	if r.code != 0 {
		t.Fatalf("plan --state Up exited %d: %s", r.code, r.stderr)
	}
	tiers = parsePlan(t, r.stdout)
	if got, want := conditions(tiers), []string{"DatabasesStarted", "FrameworkStarted", "ServicesStarted", "AgentsStarted", "MaintenanceCleared"}; !slices.Equal(got, want) {
		t.Fatalf("Up tiers = %v, want %v\n%s", got, want, r.stdout)
	}
	for i, want := range [][]string{databases, {"volhcb18"}, services[:3], {"volhcb20"}, all} {
		if !slices.Equal(tiers[i].hosts, want) {
			t.Errorf("tier %s hosts = %v, want %v", tiers[i].condition, tiers[i].hosts, want)
		}
	}
	for _, want := range []string{
		"spec.state is Down: this is what 'kubectl vobox up power-stop' would start.",
		"starts 1m0s after ServicesStarted finished (spec.checks.settleDelay)",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan --state Up does not say %q:\n%s", want, r.stdout)
		}
	}
	if cmd, _ := step(tiers[0].lines["volhcb26"], "StartDatabase"); cmd != mysql+" start" {
		t.Errorf("DatabasesStarted on volhcb26 starts with %q", cmd)
	}
	for _, want := range map[string]string{
		"RestoreLinks":    "vobox-restore /opt/dirac/startup-save /opt/dirac/startup LINK...",
		"StartComponents": "runsvctrl u /opt/dirac/startup/LINK...",
		"CheckLogs":       "vobox-logscan /opt/dirac 2 ERROR FATAL 1 Traceback LINK SINCE...",
	} {
		if !slices.ContainsFunc(tiers[3].lines["volhcb20"], func(l string) bool { return strings.HasSuffix(l, " "+want) }) {
			t.Errorf("AgentsStarted on volhcb20 does not run %q:\n%s", want, strings.Join(tiers[3].lines["volhcb20"], "\n"))
		}
	}
	if cmd, _ := step(tiers[4].lines["volhcb20"], "ClearMaintenance"); cmd != "sms clear maintenance 'power stop' volhcb20" {
		t.Errorf("MaintenanceCleared on volhcb20 runs %q", cmd)
	}
	// The manifest goes in the clear's session, on the host itself.
	if cmd, _ := step(tiers[4].lines["volhcb20"], "RemoveManifest"); cmd != "rm -f -- /opt/dirac/startup-save/"+manifest {
		t.Errorf("MaintenanceCleared on volhcb20 removes the manifest with %q", cmd)
	}

	// plan changes nothing.
	if got := fetch(t, ns, "power-stop"); got.ResourceVersion != vbi.ResourceVersion {
		t.Errorf("plan changed the object: resourceVersion %s -> %s", vbi.ResourceVersion, got.ResourceVersion)
	}
}

func TestUsageAndErrors(t *testing.T) {
	ns := newNamespace(t)
	createSample(t, ns)
	cases := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no command", nil, 2, "no command given"},
		{"unknown command", []string{"reboot", "power-stop"}, 2, `unknown command "reboot"`},
		{"no name", []string{"status", "-n", ns}, 2, "status takes exactly one argument"},
		{"two names", []string{"down", "a", "b", "-n", ns}, 2, "down takes exactly one argument"},
		{"bad state", []string{"plan", "power-stop", "-n", ns, "--state", "Sideways"}, 2, `--state must be Down or Up, not "Sideways"`},
		{"bad colour", []string{"status", "power-stop", "-n", ns, "--color", "sometimes"}, 2, "--color must be auto, always or never"},
		{"unknown flag", []string{"status", "power-stop", "--force"}, 2, "unknown flag: --force"},
		{"not found", []string{"status", "nope", "-n", ns}, 1, `voboxintervention "nope" not found in namespace "` + ns + `"`},
		{"not found on patch", []string{"down", "nope", "-n", ns}, 1, `voboxintervention "nope" not found`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := kv(t, tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.stderr) {
				t.Errorf("kubectl vobox %v: exit %d, stderr %q; want exit %d and %q", tc.args, r.code, r.stderr, tc.code, tc.stderr)
			}
		})
	}
	if r := kvWith(t, filepath.Join(t.TempDir(), "missing"), "status", "power-stop", "-n", ns); r.code != 1 || !strings.Contains(r.stderr, "failed to load the kubeconfig") {
		t.Errorf("a missing kubeconfig: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := kv(t, "-n", ns, "status", "power-stop"); r.code != 0 || !strings.Contains(r.stdout, "VOBoxIntervention "+ns+"/power-stop") {
		t.Errorf("flags before the command: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := kv(t, "help"); r.code != 0 || !strings.Contains(r.stdout, "Usage: kubectl vobox COMMAND NAME [flags]") {
		t.Errorf("help: exit %d, stdout %q", r.code, r.stdout)
	}
}

func TestDownUpSuspendResume(t *testing.T) {
	ns := newNamespace(t)
	createSample(t, ns)
	check := func(state diracv1.State, suspend bool) {
		t.Helper()
		vbi := fetch(t, ns, "power-stop")
		if vbi.Spec.State != state || vbi.Spec.Suspend != suspend {
			t.Fatalf("spec.state %s, spec.suspend %v; want %s, %v", vbi.Spec.State, vbi.Spec.Suspend, state, suspend)
		}
	}
	steps := []struct {
		args    []string
		stdout  string
		stderr  string
		state   diracv1.State
		suspend bool
	}{
		{[]string{"up", "power-stop"}, "spec.state Down -> Up", "", diracv1.StateUp, false},
		{[]string{"up", "power-stop"}, "spec.state is already Up; nothing changed", "", diracv1.StateUp, false},
		{[]string{"suspend", "power-stop"}, "suspended; steps already running finish, no new step starts", "", diracv1.StateUp, true},
		{[]string{"suspend", "power-stop"}, "already suspended; nothing changed", "", diracv1.StateUp, true},
		{[]string{"down", "power-stop"}, "spec.state Up -> Down", "warning: spec.suspend is true", diracv1.StateDown, true},
		{[]string{"resume", "power-stop"}, "resumed", "", diracv1.StateDown, false},
		{[]string{"resume", "power-stop"}, "already not suspended", "", diracv1.StateDown, false},
	}
	for _, s := range steps {
		r := kv(t, append(s.args, "-n", ns)...)
		if r.code != 0 || !strings.Contains(r.stdout, s.stdout) || !strings.Contains(r.stderr, s.stderr) {
			t.Fatalf("kubectl vobox %v: exit %d\nstdout %q (want %q)\nstderr %q (want %q)", s.args, r.code, r.stdout, s.stdout, r.stderr, s.stderr)
		}
		check(s.state, s.suspend)
	}
	// Only the field asked for changes.
	vbi := fetch(t, ns, "power-stop")
	if vbi.Spec.Reason != "power stop" || len(vbi.Spec.Hosts) != 11 {
		t.Errorf("the patch touched other fields: %+v", vbi.Spec)
	}

	// Without -n, the namespace is the kubeconfig context's, as with kubectl.
	cfg, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Contexts[cfg.CurrentContext].Namespace = ns
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, kc); err != nil {
		t.Fatal(err)
	}
	if r := kvWith(t, kc, "up", "power-stop"); r.code != 0 {
		t.Fatalf("up with the context's namespace: exit %d: %s", r.code, r.stderr)
	}
	check(diracv1.StateUp, false)

	// A GitOps-managed object: the change is made, with a warning that Git wins.
	patch := client.MergeFrom(vbi.DeepCopy())
	vbi.Labels = map[string]string{"kustomize.toolkit.fluxcd.io/name": "interventions"}
	if err := k8sClient.Patch(context.Background(), vbi, patch); err != nil {
		t.Fatal(err)
	}
	r := kv(t, "down", "power-stop", "-n", ns)
	if r.code != 0 || !strings.Contains(r.stderr, "warning: Flux applies this object from Git: change spec.state in Git too") {
		t.Errorf("down of a Flux object: exit %d, stderr %q", r.code, r.stderr)
	}
	check(diracv1.StateDown, false)
}

func TestStatusTree(t *testing.T) {
	ns := newNamespace(t)
	createSample(t, ns)

	r := kv(t, "status", "power-stop", "-n", ns)
	if r.code != 0 || !strings.Contains(r.stdout, "No tiers yet: the operator has not planned this intervention.") ||
		!strings.Contains(r.stdout, "Generation 1 is not observed yet (status describes -1)") {
		t.Fatalf("status of a new object: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// Write a status as the controller would, half-way through ServicesStopped.
	vbi := fetch(t, ns, "power-stop")
	at := func(d time.Duration) *metav1.Time { m := metav1.NewTime(testNow.Add(d)); return &m }
	code := func(c int32) *int32 { return &c }
	databases := []string{"volhcb21", "volhcb22", "volhcb23", "volhcb24", "volhcb25", "volhcb26"}
	all := slices.Concat([]string{"volhcb15", "volhcb17", "volhcb19", "volhcb18", "volhcb20"}, databases)
	cond := func(t string, s metav1.ConditionStatus, reason, msg string) metav1.Condition {
		return metav1.Condition{Type: t, Status: s, Reason: reason, Message: msg, ObservedGeneration: vbi.Generation, LastTransitionTime: *at(-5 * time.Minute)}
	}
	vbi.Status = diracv1.VOBoxInterventionStatus{
		ObservedGeneration: vbi.Generation, ObservedState: diracv1.StateDown, Phase: diracv1.PhaseShuttingDown, Progress: "13/22",
		Conditions: []metav1.Condition{
			cond(diracv1.ReadyCondition, metav1.ConditionFalse, diracv1.ReasonProgressing, "Working on ServicesStopped"),
			cond(diracv1.ReconcilingCondition, metav1.ConditionTrue, diracv1.ReasonProgressing, "Working on ServicesStopped"),
			cond(diracv1.StalledCondition, metav1.ConditionFalse, diracv1.ReasonSucceeded, ""),
		},
		Tiers: []diracv1.TierStatus{
			{Name: "MaintenanceSet", Hosts: all, State: diracv1.TierSucceeded, Done: 11, StartedAt: at(-5 * time.Minute), FinishedAt: at(-5*time.Minute + 3*time.Second)},
			{Name: "AgentsStopped", Hosts: []string{"volhcb20"}, State: diracv1.TierSucceeded, Done: 1, StartedAt: at(-4 * time.Minute), FinishedAt: at(-2 * time.Minute)},
			{Name: "ServicesStopped", Hosts: []string{"volhcb15", "volhcb17", "volhcb19", "volhcb18"}, State: diracv1.TierRunning, Done: 1, StartedAt: at(-time.Minute)},
			{Name: "DatabasesStopped", Hosts: databases, State: diracv1.TierPending},
		},
	}
	for _, h := range all {
		hs := diracv1.HostStatus{Name: h, Phase: diracv1.HostWorking, CompletedTiers: []string{"MaintenanceSet"},
			LastStep: &diracv1.StepStatus{Name: "SetMaintenance", Command: []string{"sms", "set", "maintenance", "power stop", "other", h},
				ExitCode: code(0), StartedAt: at(-5 * time.Minute), FinishedAt: at(-5*time.Minute + time.Second)}}
		switch h {
		case "volhcb20":
			hs.CompletedTiers = append(hs.CompletedTiers, "AgentsStopped")
			hs.LastStep = &diracv1.StepStatus{Name: "ParkLinks", Command: []string{"vobox-park", "/opt/dirac/startup", "/opt/dirac/startup-save", "WorkloadManagement_JobCleaningAgent"},
				ExitCode: code(0), StartedAt: at(-2 * time.Minute), FinishedAt: at(-2 * time.Minute)}
		case "volhcb15":
			hs.CompletedTiers = append(hs.CompletedTiers, "ServicesStopped")
			hs.LastStep = &diracv1.StepStatus{Name: "ParkLinks", Command: []string{"vobox-park", "/opt/dirac/startup", "/opt/dirac/startup-save", "Configuration_Server"},
				ExitCode: code(0), StartedAt: at(-30 * time.Second), FinishedAt: at(-30 * time.Second)}
		case "volhcb17":
			hs.Phase, hs.Reason, hs.Message = diracv1.HostFailed, diracv1.ReasonCommandFailed, "host volhcb17: StopComponents exited 1: runsvctrl: warning: unable to control"
			hs.WaitingSince = at(-time.Minute)
			hs.LastStep = &diracv1.StepStatus{Name: "StopComponents", Command: []string{"runsvctrl", "d", "/opt/dirac/startup/Framework_SystemAdministrator"},
				ExitCode: code(1), StartedAt: at(-40 * time.Second), FinishedAt: at(-38 * time.Second),
				Output: "runsvctrl: warning: unable to control /opt/dirac/startup/Framework_SystemAdministrator: file does not exist"}
		case "volhcb19":
			hs.WaitingSince = at(-time.Minute)
			hs.LastStep = &diracv1.StepStatus{Name: "StopComponents", Command: []string{"runsvctrl", "d", "/opt/dirac/startup/DataManagement_FileCatalog"},
				StartedAt: at(-10 * time.Second), Output: "failed to run runsvctrl on host volhcb19: dial tcp: i/o timeout"}
		case "volhcb18":
			hs.Phase, hs.Reason, hs.Message = diracv1.HostWaiting, diracv1.ReasonHostLocked, "held by intervention other/reboot"
		}
		vbi.Status.Hosts = append(vbi.Status.Hosts, hs)
	}
	if err := k8sClient.Status().Update(context.Background(), vbi); err != nil {
		t.Fatalf("failed to write the status: %v", err)
	}

	r = kv(t, "status", "power-stop", "-n", ns)
	if r.code != 0 {
		t.Fatalf("status exited %d: %s", r.code, r.stderr)
	}
	if strings.Contains(r.stdout, "\x1b[") {
		t.Errorf("status coloured output that is not a terminal:\n%s", r.stdout)
	}
	want := []string{
		"VOBoxIntervention " + ns + "/power-stop",
		"State Down  Phase ShuttingDown  Progress 13/22",
		"Ready        False Progressing  Working on ServicesStopped",
		"Reconciling  True  Progressing  Working on ServicesStopped",
		"Stalled      False Succeeded",
		"Tiers for Down",
		"├─ ✓ MaintenanceSet  Succeeded  11/11  took 3s",
		"│  ├─ ✓ volhcb15  done",
		"│  ├─ ✓ volhcb18  done",
		"│  │  └─ SetMaintenance  exit 0  in 1s, 4m59s ago  sms set maintenance 'power stop' other volhcb18",
		"│  ├─ ✓ volhcb21  done",
		"│  │  └─ SetMaintenance  exit 0  in 1s, 4m59s ago  sms set maintenance 'power stop' other volhcb21",
		"│  └─ ✓ volhcb26  done",
		"│     └─ SetMaintenance  exit 0  in 1s, 4m59s ago  sms set maintenance 'power stop' other volhcb26",
		"├─ ✓ AgentsStopped  Succeeded  1/1  took 2m0s",
		"│  └─ ✓ volhcb20  done",
		"│     └─ ParkLinks  exit 0  in <1s, 2m0s ago  vobox-park /opt/dirac/startup /opt/dirac/startup-save WorkloadManagement_JobCleaningAgent",
		"├─ ▶ ServicesStopped  Running  1/4  running for 1m0s",
		"│  ├─ ✓ volhcb15  done",
		"│  │  └─ ParkLinks  exit 0  in <1s, 30s ago  vobox-park /opt/dirac/startup /opt/dirac/startup-save Configuration_Server",
		"│  ├─ ✗ volhcb17  Failed  CommandFailed: host volhcb17: StopComponents exited 1: runsvctrl: warning: unable to control",
		"│  │  ├─ StopComponents  exit 1  in 2s, 38s ago  runsvctrl d /opt/dirac/startup/Framework_SystemAdministrator",
		"│  │  └─ output: runsvctrl: warning: unable to control /opt/dirac/startup/Framework_SystemAdministrator: file does not exist",
		"│  ├─ ▶ volhcb19  Working",
		"│  │  ├─ StopComponents  no exit code  runsvctrl d /opt/dirac/startup/DataManagement_FileCatalog",
		"│  │  └─ output: failed to run runsvctrl on host volhcb19: dial tcp: i/o timeout",
		"│  └─ ▶ volhcb18  Waiting  HostLocked: held by intervention other/reboot",
		"└─ · DatabasesStopped  Pending  0/6",
		"   ├─ · volhcb21  pending",
		"   └─ · volhcb26  pending",
	}
	// Every wanted line, in this order (other lines may come between).
	got := strings.Split(r.stdout, "\n")
	next := 0
	for _, w := range want {
		i := slices.Index(got[next:], w)
		if i < 0 {
			t.Errorf("status has no line %q after line %d", w, next)
			continue
		}
		next += i + 1
	}
	// A host's last step shows once, under the tier it belongs to.
	for _, s := range []string{"StopComponents  exit 1", "other volhcb18", "ParkLinks  exit 0  in <1s, 2m0s ago"} {
		if n := strings.Count(r.stdout, s); n != 1 {
			t.Errorf("%q shows %d times, want once", s, n)
		}
	}
	if t.Failed() {
		t.Logf("status output:\n%s", r.stdout)
	}

	// Colours only when asked for or on a terminal.
	r = kv(t, "status", "power-stop", "-n", ns, "--color", "always")
	for _, w := range []string{"\x1b[32m✓\x1b[0m", "\x1b[31m✗\x1b[0m", "\x1b[31mexit 1\x1b[0m", "\x1b[33mRunning\x1b[0m"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("status --color always has no %q", w)
		}
	}
	var out bytes.Buffer
	e := env{stdout: &out, stderr: &out, now: func() time.Time { return testNow }, isTerminal: func() bool { return true }}
	t.Setenv("NO_COLOR", "")
	if code := run(context.Background(), []string{"status", "power-stop", "-n", ns, "--kubeconfig", kubeconfig}, e); code != 0 || !strings.Contains(out.String(), "\x1b[") {
		t.Errorf("status on a terminal: exit %d, no colour:\n%s", code, out.String())
	}
}
