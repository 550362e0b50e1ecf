// Package prometheus_test checks the monitoring manifests: the alerts with
// promtool (Debian's prometheus package, installed by make deps), and the
// kustomize renderings of the ServiceMonitor and its certificate.
package prometheus_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// promtool finds promtool, failing (not skipping) without it: make test
// installs it first, and a check that silently does not run checks nothing.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool is not installed: run `make deps` (or apt-get install -y prometheus), which make test does first: %v", err)
	}
	return p
}

// ruleFile writes spec.groups of prometheus_rule.yaml as a plain rule file.
func ruleFile(t *testing.T, dir string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("monitor", "prometheus_rule.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var rule struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   any    `json:"metadata"`
		Spec       struct {
			Groups []any `json:"groups"`
		} `json:"spec"`
	}
	if err := yaml.UnmarshalStrict(data, &rule); err != nil {
		t.Fatalf("monitor/prometheus_rule.yaml: %v", err)
	}
	if rule.APIVersion != "monitoring.coreos.com/v1" || rule.Kind != "PrometheusRule" || len(rule.Spec.Groups) == 0 {
		t.Fatalf("prometheus_rule.yaml is not a PrometheusRule with groups: %s %s", rule.APIVersion, rule.Kind)
	}
	out, err := yaml.Marshal(map[string]any{"groups": rule.Spec.Groups})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func run(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestAlertRules(t *testing.T) {
	pt := promtool(t)
	dir := t.TempDir()
	ruleFile(t, dir)
	out := run(t, dir, pt, "check", "rules", "rules.yaml")
	if !strings.Contains(out, "SUCCESS: 5 rules found") {
		t.Errorf("promtool check rules: want 5 rules:\n%s", out)
	}
	tests, err := filepath.Glob(filepath.Join("tests", "*_test.yaml"))
	if err != nil || len(tests) == 0 {
		t.Fatalf("no rule unit tests under tests/: %v", err)
	}
	for _, f := range tests {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), data, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Log(run(t, dir, pt, "test", "rules", filepath.Base(f)))
	}
	// Every alert has a unit test.
	rules, _ := os.ReadFile(filepath.Join(dir, "rules.yaml"))
	var all strings.Builder
	for _, f := range tests {
		b, _ := os.ReadFile(f)
		all.Write(b)
	}
	for _, l := range strings.Split(string(rules), "\n") {
		if name, ok := strings.CutPrefix(strings.TrimSpace(l), "- alert: "); ok {
			if !strings.Contains(all.String(), "alertname: "+name+"\n") {
				t.Errorf("alert %s has no promtool unit test under tests/", name)
			}
		}
	}
	// The Prometheus Operator's own label must not be ours.
	if strings.Contains(string(rules), "$labels.namespace") || strings.Contains(string(rules), "(namespace,") {
		t.Errorf("a rule uses the label namespace, which the Prometheus Operator sets to the scraped pod's: use intervention_namespace")
	}
}

// object is the part of a rendered object the checks read.
type object struct {
	APIVersion string         `json:"apiVersion"`
	Kind       string         `json:"kind"`
	Metadata   map[string]any `json:"metadata"`
	Spec       map[string]any `json:"spec"`
	raw        string
}

func (o object) name() string      { s, _ := o.Metadata["name"].(string); return s }
func (o object) namespace() string { s, _ := o.Metadata["namespace"].(string); return s }

// render builds a kustomization with kustomize's own API, as kubectl
// kustomize and the pinned bin/kustomize do.
func render(t *testing.T, dir string) []object {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := k.Run(filesys.MakeFsOnDisk(), abs)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	var objs []object
	for _, r := range m.Resources() {
		b, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		var o object
		if err := yaml.Unmarshal(b, &o); err != nil {
			t.Fatal(err)
		}
		o.raw = string(b)
		objs = append(objs, o)
	}
	return objs
}

func find(t *testing.T, objs []object, kind string) object {
	t.Helper()
	for _, o := range objs {
		if o.Kind == kind {
			return o
		}
	}
	t.Fatalf("no %s rendered", kind)
	return object{}
}

// dig reads a nested field, with ints as list indexes.
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func TestServiceMonitor(t *testing.T) {
	base := render(t, ".")
	install := render(t, "install")
	for _, o := range append(base, install...) {
		if strings.Contains(o.raw, "insecureSkipVerify") {
			t.Errorf("%s %s skips TLS verification", o.Kind, o.name())
		}
	}

	sm := find(t, install, "ServiceMonitor")
	ep := dig(sm.Spec, "endpoints", 0)
	if dig(ep, "honorLabels") != true {
		t.Errorf("the ServiceMonitor does not honour the operator's labels:\n%s", sm.raw)
	}
	if dig(ep, "authorization", "type") != "Bearer" || dig(ep, "bearerTokenFile") != nil {
		t.Errorf("the ServiceMonitor must present a bearer token through authorization:\n%s", sm.raw)
	}
	if dig(ep, "scheme") != "https" {
		t.Errorf("the scrape is not HTTPS:\n%s", sm.raw)
	}

	// Every name the ServiceMonitor refers to is one the install renders.
	byKindName := map[string]object{}
	for _, o := range install {
		byKindName[o.Kind+"/"+o.name()] = o
	}
	tokenSecret := byKindName["Secret/"+dig(ep, "authorization", "credentials", "name").(string)]
	if tokenSecret.Kind == "" || tokenSecret.namespace() != sm.namespace() {
		t.Fatalf("the token Secret %v is not rendered beside the ServiceMonitor", dig(ep, "authorization", "credentials", "name"))
	}
	sa := dig(tokenSecret.Metadata, "annotations", "kubernetes.io/service-account.name").(string)
	if _, ok := byKindName["ServiceAccount/"+sa]; !ok {
		t.Errorf("the token Secret is for ServiceAccount %s, which is not rendered", sa)
	}
	binding := byKindName["ClusterRoleBinding/vobox-operator-metrics-scraper"]
	if role := dig(binding.raw2map(t), "roleRef", "name"); byKindName["ClusterRole/"+role.(string)].Kind == "" {
		t.Errorf("the scraper is bound to ClusterRole %v, which is not rendered", role)
	}
	if dig(binding.raw2map(t), "subjects", 0, "name") != sa || dig(binding.raw2map(t), "subjects", 0, "namespace") != sm.namespace() {
		t.Errorf("the scraper binding's subject is not the token's ServiceAccount:\n%s", binding.raw)
	}

	svc := byKindName["Service/vobox-operator-controller-manager-metrics-service"]
	if svc.Kind == "" {
		t.Fatal("no metrics Service rendered")
	}
	for k, v := range dig(sm.Spec, "selector", "matchLabels").(map[string]any) {
		if dig(svc.Metadata, "labels", k) != v {
			t.Errorf("the ServiceMonitor selects %s=%v, which the metrics Service lacks", k, v)
		}
	}
	if dig(svc.Spec, "ports", 0, "name") != dig(ep, "port") {
		t.Errorf("the ServiceMonitor scrapes port %v, the Service names %v", dig(ep, "port"), dig(svc.Spec, "ports", 0, "name"))
	}

	// TLS: verified against cert-manager's certificate for the Service's name.
	want := svc.name() + "." + svc.namespace() + ".svc"
	if dig(ep, "tlsConfig", "serverName") != want {
		t.Errorf("tlsConfig.serverName is %v, want %s", dig(ep, "tlsConfig", "serverName"), want)
	}
	caSecret := dig(ep, "tlsConfig", "ca", "secret", "name")
	cert := find(t, install, "Certificate")
	if dig(cert.Spec, "secretName") != caSecret {
		t.Errorf("the ServiceMonitor trusts Secret %v, cert-manager writes %v", caSecret, dig(cert.Spec, "secretName"))
	}
	if dig(cert.Spec, "dnsNames", 0) != want {
		t.Errorf("the Certificate is for %v, want %s", dig(cert.Spec, "dnsNames"), want)
	}
	if issuer := byKindName["Issuer/"+dig(cert.Spec, "issuerRef", "name").(string)]; issuer.Kind == "" || issuer.namespace() != cert.namespace() {
		t.Errorf("the Certificate's Issuer is not rendered beside it")
	}
	// The manager serves that certificate: mounted where controller-runtime looks.
	dep := byKindName["Deployment/vobox-operator-controller-manager"]
	pod := dig(dep.Spec, "template", "spec")
	found := false
	for i := 0; dig(pod, "volumes", i) != nil; i++ {
		if dig(pod, "volumes", i, "secret", "secretName") == caSecret {
			name := dig(pod, "volumes", i, "name")
			for j := 0; dig(pod, "containers", 0, "volumeMounts", j) != nil; j++ {
				m := dig(pod, "containers", 0, "volumeMounts", j)
				if dig(m, "name") == name && dig(m, "mountPath") == "/tmp/k8s-metrics-server/serving-certs" {
					found = true
				}
			}
		}
	}
	if !found {
		t.Errorf("the manager does not mount Secret %v at /tmp/k8s-metrics-server/serving-certs:\n%s", caSecret, dep.raw)
	}
	if dig(pod, "containers", 0, "name") != "manager" {
		t.Errorf("the patch mounts into container 0, which is %v, not manager", dig(pod, "containers", 0, "name"))
	}

	// The base alone: the same objects in vobox-system, no Deployment.
	for _, o := range base {
		if ns := o.namespace(); ns != "" && ns != "vobox-system" {
			t.Errorf("%s %s renders in %s, not vobox-system", o.Kind, o.name(), ns)
		}
		if o.Kind == "Deployment" {
			t.Errorf("config/prometheus renders the manager Deployment; it must come from config/default only")
		}
	}
	find(t, base, "PrometheusRule")
}

// raw2map is the whole object as a map, for fields outside spec.
func (o object) raw2map(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(o.raw), &m); err != nil {
		t.Fatal(err)
	}
	return m
}
