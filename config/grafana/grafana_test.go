// Package grafana_test checks the dashboard: every query is valid PromQL to
// promtool once Grafana's variables are replaced, every panel is drawn from
// a Prometheus query, and the kustomization renders it as a ConfigMap.
// test/metrics checks that its metric names are ones the operator exports.
package grafana_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

type target struct {
	RefID string `json:"refId"`
	Expr  string `json:"expr"`
}

type panel struct {
	ID      int       `json:"id"`
	Title   string    `json:"title"`
	Type    string    `json:"type"`
	Targets []target  `json:"targets"`
	Panels  []panel   `json:"panels"`
	Grid    *struct{} `json:"gridPos"`
}

type dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name       string `json:"name"`
			Type       string `json:"type"`
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
}

func load(t *testing.T) dashboard {
	t.Helper()
	data, err := os.ReadFile("vobox-operator.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	dec := json.NewDecoder(strings.NewReader(string(data)))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("vobox-operator.json: %v", err)
	}
	return d
}

// variables are Grafana's, replaced by values PromQL accepts.
var variables = strings.NewReplacer(
	"${intervention_namespace}", ".*", "$intervention_namespace", ".*",
	"$__rate_interval", "5m", "$__interval", "1m", "$__range", "1d",
)

var labelValues = regexp.MustCompile(`^label_values\(([a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})?),\s*[a-zA-Z_][a-zA-Z0-9_]*\)$`)

func TestDashboardQueries(t *testing.T) {
	pt, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool is not installed: run `make deps` (or apt-get install -y prometheus), which make test does first: %v", err)
	}
	d := load(t)
	if d.UID == "" || d.Title == "" {
		t.Errorf("the dashboard needs a uid and a title")
	}
	type rule struct {
		Record string `json:"record"`
		Expr   string `json:"expr"`
	}
	var rules []rule
	ids := map[int]bool{}
	var walk func(ps []panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if ids[p.ID] {
				t.Errorf("panel id %d is used twice", p.ID)
			}
			ids[p.ID] = true
			if p.Grid == nil {
				t.Errorf("panel %q has no gridPos", p.Title)
			}
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				if strings.TrimSpace(tg.Expr) == "" {
					t.Errorf("panel %q query %s is empty", p.Title, tg.RefID)
				}
				rules = append(rules, rule{Record: fmt.Sprintf("grafana:panel_%d_%s", p.ID, tg.RefID), Expr: variables.Replace(tg.Expr)})
			}
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		m := labelValues.FindStringSubmatch(v.Definition)
		if m == nil {
			t.Errorf("variable %s: %q is not label_values(METRIC, LABEL)", v.Name, v.Definition)
			continue
		}
		rules = append(rules, rule{Record: "grafana:variable_" + v.Name, Expr: m[1]})
	}
	if len(rules) < 15 {
		t.Errorf("only %d queries found in the dashboard", len(rules))
	}
	data, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "grafana-dashboard", "rules": rules}}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "dashboard-queries.yaml"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(pt, "check", "rules", "dashboard-queries.yaml")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), fmt.Sprintf("SUCCESS: %d rules found", len(rules))) {
		t.Errorf("promtool check rules of the dashboard's %d queries: %v\n%s\n%s", len(rules), err, out, data)
	}
}

func TestDashboardConfigMap(t *testing.T) {
	abs, _ := filepath.Abs(".")
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), abs)
	if err != nil {
		t.Fatalf("kustomize build config/grafana: %v", err)
	}
	res := m.Resources()
	if len(res) != 1 || res[0].GetKind() != "ConfigMap" || res[0].GetLabels()["grafana_dashboard"] != "1" {
		t.Fatalf("config/grafana renders %d objects, want one ConfigMap labelled grafana_dashboard", len(res))
	}
	data, _ := res[0].GetDataMap()["vobox-operator.json"]
	if !json.Valid([]byte(data)) {
		t.Errorf("the ConfigMap's vobox-operator.json is not the dashboard")
	}
}
