package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
)

// samplePath is the power-stop sample, as a person would pass it to -f.
var samplePath = filepath.Join("..", "..", "config", "samples", "dirac_v1alpha1_voboxintervention.yaml")

func TestGetListAndOutputs(t *testing.T) {
	ns := newNamespace(t)
	createSample(t, ns)

	r := kv(t, "get", "-n", ns)
	if r.code != 0 {
		t.Fatalf("get: exit %d: %s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != "NAME STATE PHASE READY PROGRESS AGE" || !strings.HasPrefix(lines[1], "power-stop ") {
		t.Errorf("get prints kubectl's table with the CRD's columns:\n%s", r.stdout)
	}
	if r := kv(t, "list", "-n", ns, "-o", "wide"); r.code != 0 || !strings.Contains(r.stdout, "REASON") {
		t.Errorf("list -o wide: exit %d, no REASON column:\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := kv(t, "get", "-A"); r.code != 0 || !strings.HasPrefix(r.stdout, "NAMESPACE ") || !regexp.MustCompile(`(?m)^`+ns+`\s+power-stop\s`).MatchString(r.stdout) {
		t.Errorf("get -A: exit %d, want a NAMESPACE column and %s/power-stop:\n%s%s", r.code, ns, r.stdout, r.stderr)
	}
	if r := kv(t, "get", "power-stop", "-n", ns, "-o", "name"); r.code != 0 || r.stdout != "voboxintervention.dirac.vobox.io/power-stop\n" {
		t.Errorf("get -o name: exit %d, %q %s", r.code, r.stdout, r.stderr)
	}
	r = kv(t, "get", "power-stop", "-n", ns, "-o", "json")
	var got diracv1.VOBoxIntervention
	if err := json.Unmarshal([]byte(r.stdout), &got); r.code != 0 || err != nil || got.Kind != "VOBoxIntervention" || got.APIVersion != "dirac.vobox.io/v1alpha1" || got.Spec.Reason != "power stop" {
		t.Errorf("get -o json: exit %d, %v, %+v\n%s", r.code, err, got.TypeMeta, r.stderr)
	}
	r = kv(t, "get", "-n", ns, "-o", "yaml")
	var list diracv1.VOBoxInterventionList
	if err := yaml.Unmarshal([]byte(r.stdout), &list); r.code != 0 || err != nil || len(list.Items) != 1 || list.Items[0].Spec.State != diracv1.StateDown {
		t.Errorf("get -o yaml: exit %d, %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	if r := kv(t, "get", "-n", newNamespace(t)); r.code != 0 || !strings.Contains(r.stderr, "No resources found in ") {
		t.Errorf("get in an empty namespace: exit %d, %q", r.code, r.stderr)
	}
	if r := kv(t, "get", "nope", "-n", ns); r.code != 1 || !strings.Contains(r.stderr, `voboxintervention "nope" not found`) {
		t.Errorf("get of a missing name: exit %d, %q", r.code, r.stderr)
	}
	if r := kv(t, "get", "-n", ns, "-o", "jsonpath={.items}"); r.code != 2 || !strings.Contains(r.stderr, "--output must be one of json, yaml, wide or name") {
		t.Errorf("get -o jsonpath: exit %d, %q", r.code, r.stderr)
	}
}

// syncBuffer is a buffer a watch writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// watch runs the plugin with -w until cond holds on its output or 30s pass.
func watchUntil(t *testing.T, change func(), cond func(string) bool, args ...string) string {
	t.Helper()
	var out, errOut syncBuffer
	e := env{stdout: &out, stderr: &errOut, now: func() time.Time { return testNow }, isTerminal: func() bool { return false }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() { done <- run(ctx, append(args, "--kubeconfig", kubeconfig), e) }()
	deadline := time.Now().Add(30 * time.Second)
	changed := false
	for time.Now().Before(deadline) && !cond(out.String()) {
		if !changed && out.String() != "" {
			change()
			changed = true
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("%v: exit %d: %s", args, code, errOut.String())
	}
	return out.String()
}

func TestWatch(t *testing.T) {
	ns := newNamespace(t)
	vbi := createSample(t, ns)
	flip := func(state diracv1.State) func() {
		return func() {
			patch := client.MergeFrom(vbi.DeepCopy())
			vbi.Spec.State = state
			if err := k8sClient.Patch(context.Background(), vbi, patch); err != nil {
				t.Error(err)
			}
		}
	}
	// The table: the header and the first row, then a row per change.
	out := watchUntil(t, flip(diracv1.StateUp), func(s string) bool { return strings.Count(s, "power-stop") >= 2 }, "get", "-w", "-n", ns)
	rows := strings.Split(strings.TrimSpace(out), "\n")
	if len(rows) < 3 || !strings.HasPrefix(rows[0], "NAME ") || !strings.Contains(rows[1], " Down ") || !strings.Contains(rows[len(rows)-1], " Up ") {
		t.Errorf("get -w: want the header, the Down row, then an Up row:\n%s", out)
	}
	// Objects: one JSON document per change.
	out = watchUntil(t, flip(diracv1.StateDown), func(s string) bool { return strings.Count(s, `"kind": "VOBoxIntervention"`) >= 2 }, "get", "power-stop", "-w", "-o", "json", "-n", ns)
	dec := json.NewDecoder(strings.NewReader(out))
	var states []diracv1.State
	for {
		var v diracv1.VOBoxIntervention
		if err := dec.Decode(&v); err != nil {
			break
		}
		states = append(states, v.Spec.State)
	}
	if len(states) < 2 || states[0] != diracv1.StateUp || states[len(states)-1] != diracv1.StateDown {
		t.Errorf("get -w -o json: states %v, want Up then Down:\n%s", states, out)
	}
}

func TestPlanFromFile(t *testing.T) {
	ns := newNamespace(t)
	r := kv(t, "plan", "-f", samplePath, "-n", ns)
	if r.code != 0 {
		t.Fatalf("plan -f: exit %d: %s", r.code, r.stderr)
	}
	// The API server's defaults apply: the maintenance command, the timeouts.
	for _, want := range []string{
		"Plan for voboxintervention " + ns + "/power-stop: Down, 4 tiers, 22 host steps (nothing runs)",
		"failure policy Halt; every command times out after 5m0s.",
		"SetMaintenance      sms set maintenance 'power stop' other volhcb20",
		"vobox-probe /opt/dirac .vobox-manifest-UID '' '' ''",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan -f does not say %q:\n%s", want, r.stdout)
		}
	}
	if got, want := conditions(parsePlan(t, r.stdout)), []string{"MaintenanceSet", "AgentsStopped", "ServicesStopped", "DatabasesStopped"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("plan -f tiers %v, want %v", got, want)
	}
	// Nothing was created.
	var list diracv1.VOBoxInterventionList
	if err := k8sClient.List(context.Background(), &list, client.InNamespace(ns)); err != nil || len(list.Items) != 0 {
		t.Errorf("plan -f created %d objects (%v)", len(list.Items), err)
	}

	// From stdin, for Up; and an existing object of that name is no obstacle.
	createSample(t, ns)
	data, err := os.ReadFile(samplePath)
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	e := env{stdout: &out, stderr: &errOut, stdin: bytes.NewReader(data), now: func() time.Time { return testNow }, isTerminal: func() bool { return false }}
	if code := run(context.Background(), []string{"plan", "-f", "-", "--state", "Up", "-n", ns, "--kubeconfig", kubeconfig}, e); code != 0 ||
		!strings.Contains(out.String(), "Plan for voboxintervention "+ns+"/power-stop: Up, 5 tiers") || !strings.Contains(out.String(), "exists: this is the plan of the file's spec") {
		t.Errorf("plan -f - --state Up: exit %d\n%s%s", code, out.String(), errOut.String())
	}

	// The API server's validation speaks: nothing is planned from a bad file.
	bad := strings.Replace(string(data), "name: volhcb20", "name: VOLHCB20", 1)
	badPath := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(badPath, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := kv(t, "plan", "-f", badPath, "-n", ns); r.code != 1 || !strings.Contains(r.stderr, "the API server refused voboxintervention") || !strings.Contains(r.stderr, "spec.hosts[") {
		t.Errorf("plan -f of an invalid object: exit %d, %q", r.code, r.stderr)
	}
	if r := kv(t, "plan", "power-stop", "-f", samplePath, "-n", ns); r.code != 2 || !strings.Contains(r.stderr, "plan takes a NAME or -f FILE, not both") {
		t.Errorf("plan NAME -f: exit %d, %q", r.code, r.stderr)
	}
}

func TestEventsVersionAndKubectlFlags(t *testing.T) {
	ns := newNamespace(t)
	vbi := createSample(t, ns)
	ctx := context.Background()

	if r := kv(t, "events", "power-stop", "-n", ns); r.code != 0 || !strings.Contains(r.stdout, "No events for voboxintervention "+ns+"/power-stop") {
		t.Errorf("events with none: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for i, reason := range []string{"Progressing", "HostFailed"} {
		ev := &eventsv1.Event{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, GenerateName: "power-stop-"},
			EventTime:  metav1.NewMicroTime(testNow.Add(time.Duration(i-2) * time.Minute)), ReportingController: "dirac.vobox.io/vobox-operator", ReportingInstance: "test",
			Action: "Reconcile", Reason: reason, Type: corev1.EventTypeNormal, Note: "Stalled=True: host volhcb17 failed",
			Regarding: corev1.ObjectReference{APIVersion: "dirac.vobox.io/v1alpha1", Kind: "VOBoxIntervention", Namespace: ns, Name: "power-stop", UID: vbi.UID},
		}
		if err := k8sClient.Create(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	r := kv(t, "events", "power-stop", "-n", ns)
	if r.code != 0 || !regexp.MustCompile(`(?s)LAST SEEN\s+TYPE\s+REASON.*2m0s ago\s+Normal\s+Progressing\s+Reconcile\s+1\s+Stalled=True: host volhcb17 failed.*1m0s ago\s+Normal\s+HostFailed`).MatchString(r.stdout) {
		t.Errorf("events: exit %d, want both events oldest first:\n%s%s", r.code, r.stdout, r.stderr)
	}

	// version: the plugin's, and the operator's from its manager Deployment.
	if r := kv(t, "version", "--client"); r.code != 0 || !strings.HasPrefix(r.stdout, "Plugin: kubectl-vobox ") || strings.Contains(r.stdout, "Operator") {
		t.Errorf("version --client: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	labels := map[string]string{"control-plane": "controller-manager", "app.kubernetes.io/name": "vobox-operator", "app.kubernetes.io/version": "v0.3.0"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "vobox-operator-controller-manager", Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "manager", Image: "ghcr.io/vobox-operator/vobox-operator:v0.3.0"}}}},
		},
	}
	if err := k8sClient.Create(ctx, dep); err != nil {
		t.Fatal(err)
	}
	if r := kv(t, "version"); r.code != 0 || !strings.Contains(r.stdout, "Operator: "+ns+"/vobox-operator-controller-manager image ghcr.io/vobox-operator/vobox-operator:v0.3.0, version v0.3.0, 0/0 ready") {
		t.Errorf("version: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// kubectl's flags: --as impersonates (and the API server says no),
	// --as-group with it, --request-timeout bounds the request.
	if r := kv(t, "get", "-n", ns, "--as", "nobody"); r.code != 1 || !strings.Contains(r.stderr, `User "nobody" cannot list resource "voboxinterventions"`) {
		t.Errorf("get --as nobody: exit %d, %q", r.code, r.stderr)
	}
	if r := kv(t, "status", "power-stop", "-n", ns, "--as", "nobody", "--as-group", "system:masters"); r.code != 0 {
		t.Errorf("status --as nobody --as-group system:masters: exit %d, %q", r.code, r.stderr)
	}
	if r := kv(t, "version", "--as", "nobody"); r.code != 0 || !strings.Contains(r.stdout, "Operator: unknown (you may not list Deployments") {
		t.Errorf("version --as nobody: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	cfg, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if r := kv(t, "status", "power-stop", "-n", ns, "--request-timeout", "20s", "--context", cfg.CurrentContext); r.code != 0 {
		t.Errorf("--request-timeout 20s: exit %d, %q", r.code, r.stderr)
	}
	if r := kv(t, "status", "power-stop", "-n", ns, "--request-timeout", "1ns"); r.code != 1 {
		t.Errorf("--request-timeout 1ns: exit %d, want 1 (%q)", r.code, r.stderr)
	}
}

func TestCompletion(t *testing.T) {
	ns := newNamespace(t)
	createSample(t, ns)
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		if r := kv(t, "completion", shell); r.code != 0 || !strings.Contains(r.stdout, "kubectl-vobox") {
			t.Errorf("completion %s: exit %d, %q", shell, r.code, r.stderr)
		}
	}
	// The shell asks cobra's hidden __complete for a status NAME.
	complete := func(args ...string) result {
		var out, errOut bytes.Buffer
		e := env{stdout: &out, stderr: &errOut, now: func() time.Time { return testNow }, isTerminal: func() bool { return false }}
		code := run(context.Background(), append([]string{"__complete", "--kubeconfig", kubeconfig}, args...), e)
		return result{stdout: out.String(), stderr: errOut.String(), code: code}
	}
	r := complete("status", "-n", ns, "")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "power-stop\n") {
		t.Errorf("completing a name: exit %d, %q", r.code, r.stdout)
	}
	if r := complete("get", "-o", ""); !strings.HasPrefix(r.stdout, "json\nyaml\nwide\nname\n") {
		t.Errorf("completing -o: %q", r.stdout)
	}
	r = complete("")
	for _, c := range []string{"get", "plan", "status", "timeline", "events", "down", "up", "suspend", "resume", "version"} {
		if !regexp.MustCompile(`(?m)^` + c + `\t`).MatchString(r.stdout) {
			t.Errorf("completing a command does not offer %s:\n%s", c, r.stdout)
		}
	}
}

// TestHostileStringsAreEscaped writes control sequences wherever the cluster
// lets someone write them and checks that no command passes one to the
// terminal.
func TestHostileStringsAreEscaped(t *testing.T) {
	ns := newNamespace(t)
	vbi := createSample(t, ns)
	ctx := context.Background()
	osc52, osc0 := hostile["OSC 52 clipboard write"], hostile["OSC 0 window title"]

	patch := client.MergeFrom(vbi.DeepCopy())
	vbi.Spec.Maintenance.Set = []string{"sms", osc52, "{host}"}
	vbi.Labels = map[string]string{"team": "a"}
	if err := k8sClient.Patch(ctx, vbi, patch); err != nil {
		t.Fatal(err)
	}
	vbi.Status = *runningDown().Status.DeepCopy()
	vbi.Status.ObservedGeneration = vbi.Generation
	vbi.Status.Conditions = []metav1.Condition{{Type: diracv1.StalledCondition, Status: metav1.ConditionTrue, Reason: diracv1.ReasonHostFailed,
		Message: "host volhcb17 " + osc0, ObservedGeneration: vbi.Generation, LastTransitionTime: *at(-time.Minute)}}
	vbi.Status.Progress = "13/22" + hostile["8-bit CSI"]
	for i := range vbi.Status.Hosts {
		hs := &vbi.Status.Hosts[i]
		if hs.Name == "volhcb17" {
			hs.Message = "StopComponents exited 1: " + osc52 + hostile["CSI clear screen"]
			hs.Reason = diracv1.ReasonCommandFailed
			hs.Findings = []string{hostile["bidi override"], hostile["carriage return"]}
			hs.LastStep.Output = "runsvctrl: " + osc0 + hostile["backspace"]
			hs.LastStep.Command = []string{"runsvctrl", "d", osc52}
		}
	}
	if err := k8sClient.Status().Update(ctx, vbi); err != nil {
		t.Fatal(err)
	}
	ev := &eventsv1.Event{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, GenerateName: "power-stop-"},
		EventTime:  metav1.NewMicroTime(testNow), ReportingController: "dirac.vobox.io/vobox-operator", ReportingInstance: "test",
		Action: "Reconcile" + "\x1b[8m", Reason: "HostFailed", Type: corev1.EventTypeWarning, Note: "Stalled=True: " + osc52,
		Regarding: corev1.ObjectReference{APIVersion: "dirac.vobox.io/v1alpha1", Kind: "VOBoxIntervention", Namespace: ns, Name: "power-stop", UID: vbi.UID},
	}
	if err := k8sClient.Create(ctx, ev); err != nil {
		t.Fatal(err)
	}

	for _, args := range [][]string{
		{"status", "power-stop"},
		{"timeline", "power-stop", "--width", "200"},
		{"events", "power-stop"},
		{"plan", "power-stop"},
		{"get"},
		{"get", "-o", "wide"},
		{"get", "-o", "json"},
		{"get", "power-stop", "-o", "yaml"},
		{"get", "-o", "name"},
	} {
		for _, colour := range []string{"never", "always"} {
			r := kv(t, append(args, "-n", ns, "--color", colour)...)
			if r.code != 0 {
				t.Errorf("%v: exit %d: %s", args, r.code, r.stderr)
				continue
			}
			// With colour on, the plugin's own SGR sequences are the only escapes.
			out := sgr.ReplaceAllString(r.stdout, "")
			if !safeForTerminal(out) || strings.Contains(out, "\x1b") {
				t.Errorf("%v --color %s passes a control sequence to the terminal:\n%q", args, colour, out)
			}
		}
	}
	r := kv(t, "status", "power-stop", "-n", ns)
	// The sequences are gone whole, the text around them stays.
	for _, want := range []string{"CommandFailed: StopComponents exited 1: \n", "Stalled      True  HostFailed  host volhcb17 \n", "log: safedm.cexe\n", "log: okFAKE\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("status does not show %q:\n%s", want, r.stdout)
		}
	}
	for _, residue := range []string{"]52;", "]0;", "Y3VybCBldmlsLmV4YW1wbGUgfCBzaA", "pwned"} {
		if strings.Contains(r.stdout, residue) {
			t.Errorf("status shows the residue %q of an escape sequence:\n%s", residue, r.stdout)
		}
	}
	if r := kv(t, "events", "power-stop", "-n", ns); !strings.Contains(r.stdout, "Stalled=True: \n") || strings.Contains(r.stdout, "]52;") {
		t.Errorf("events does not show the note stripped:\n%s", r.stdout)
	}
}

func TestTimelineCommand(t *testing.T) {
	ns := newNamespace(t)
	vbi := createSample(t, ns)
	vbi.Status = *runningDown().Status.DeepCopy()
	vbi.Status.ObservedGeneration = vbi.Generation
	if err := k8sClient.Status().Update(context.Background(), vbi); err != nil {
		t.Fatal(err)
	}
	r := kv(t, "timeline", "power-stop", "-n", ns, "--width", "100")
	if r.code != 0 {
		t.Fatalf("timeline: exit %d: %s", r.code, r.stderr)
	}
	// What the API server stored draws as the golden file of the same status.
	golden(t, "timeline-running-100.golden", strings.ReplaceAll(r.stdout, ns+"/", "vobox/"))

	if r := kv(t, "timeline", "power-stop", "-n", ns, "--width", "20"); r.code != 2 || !strings.Contains(r.stderr, "--width must be at least 40") {
		t.Errorf("timeline --width 20: exit %d, %q", r.code, r.stderr)
	}
	// Without --width and off a terminal, 100 columns.
	var out bytes.Buffer
	e := env{stdout: &out, stderr: &out, now: func() time.Time { return testNow }, isTerminal: func() bool { return false }, width: func() int { return 60 }}
	if code := run(context.Background(), []string{"timeline", "power-stop", "-n", ns, "--kubeconfig", kubeconfig}, e); code != 0 {
		t.Fatalf("timeline on a 60-column terminal: exit %d: %s", code, out.String())
	}
	golden(t, "timeline-running-60.golden", strings.ReplaceAll(out.String(), ns+"/", "vobox/"))
}

func TestApprove(t *testing.T) {
	ns := newNamespace(t)
	vbi := createSample(t, ns)
	ctx := context.Background()

	if r := kv(t, "approve", "power-stop", "AgentsStarted", "-n", ns); r.code != 1 || !strings.Contains(r.stderr, "gates no tier") {
		t.Errorf("approve with no gate: exit %d, %q", r.code, r.stderr)
	}
	patch := client.MergeFrom(vbi.DeepCopy())
	vbi.Spec.Strategy.Approvals = []string{"AgentsStarted"}
	if err := k8sClient.Patch(ctx, vbi, patch); err != nil {
		t.Fatal(err)
	}
	if r := kv(t, "approve", "power-stop", "ServicesStarted", "-n", ns); r.code != 1 || !strings.Contains(r.stderr, `tier "ServicesStarted" of voboxintervention `+ns+`/power-stop is not gated: spec.strategy.approvals lists AgentsStarted`) {
		t.Errorf("approve of a tier not gated: exit %d, %q", r.code, r.stderr)
	}
	if r := kv(t, "approve", "power-stop", "-n", ns); r.code != 2 || !strings.Contains(r.stderr, "approve takes two arguments") {
		t.Errorf("approve without a tier: exit %d, %q", r.code, r.stderr)
	}
	// Who approves is who the API server says: here an impersonated user.
	r := kv(t, "approve", "power-stop", "AgentsStarted", "-n", ns, "--as", "alice", "--as-group", "system:masters")
	if r.code != 0 || !strings.Contains(r.stdout, "AgentsStarted approved by alice for generation 2") {
		t.Fatalf("approve: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	got := fetch(t, ns, "power-stop")
	var rec diracv1.ApprovalRecord
	if err := json.Unmarshal([]byte(got.Annotations[diracv1.ApprovalAnnotation("AgentsStarted")]), &rec); err != nil ||
		rec.User != "alice" || rec.Generation != 2 || !rec.Time.Equal(&metav1.Time{Time: testNow}) {
		t.Errorf("the approval annotation is %q (%v)", got.Annotations[diracv1.ApprovalAnnotation("AgentsStarted")], err)
	}
	if r := kv(t, "approve", "power-stop", "AgentsStarted", "-n", ns); r.code != 0 || !strings.Contains(r.stdout, "already approved by alice for generation 2") {
		t.Errorf("approve again: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// A user without patch rights cannot approve.
	if r := kv(t, "approve", "power-stop", "AgentsStarted", "-n", ns, "--as", "mallory"); r.code != 1 || !strings.Contains(r.stderr, "forbidden") {
		t.Errorf("approve as a user without rights: exit %d, %q", r.code, r.stderr)
	}
}
