package metrics_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// notExportedYet are metric names the shipped dashboard reads that this
// test's scrape cannot show, with why. While a name is absent from the
// scrape it is only logged; once the scrape has it, it is checked like the
// others and the test fails until it is removed from here, so the list
// cannot go stale.
var notExportedYet = map[string]string{
	// Registered by controllers/metrics.go (issue 13), but a counter with
	// labels shows in a scrape only after its first sample, and the hosts of
	// this test have no startup link that could drift.
	"vobox_drift_total": "a per-host counter with no sample until a drift check finds a parked link back in startup",
}

// fromPrometheus are series Prometheus makes itself, not the operator.
var fromPrometheus = []string{"up"}

// promqlWords are PromQL's functions, aggregations and keywords: every
// other identifier outside braces, brackets and grouping clauses is a
// metric name.
var promqlWords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`sum min max avg count stddev stdvar topk bottomk quantile count_values group
		rate irate increase delta idelta deriv predict_linear histogram_quantile absent absent_over_time
		abs ceil floor round clamp clamp_min clamp_max exp ln log2 log10 sqrt sort sort_desc time timestamp vector scalar
		label_replace label_join changes resets avg_over_time min_over_time max_over_time sum_over_time count_over_time
		last_over_time quantile_over_time present_over_time and or unless bool offset by without on ignoring group_left group_right
		inf nan`) {
		promqlWords[w] = true
	}
}

var (
	promqlStrings  = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`)
	promqlMatchers = regexp.MustCompile(`\{[^}]*\}`)
	promqlRanges   = regexp.MustCompile(`\[[^\]]*\]`)
	promqlGrouping = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promqlIdent    = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	labelValues    = regexp.MustCompile(`^label_values\(([a-zA-Z_:][a-zA-Z0-9_:]*)`)
	promqlNumber   = regexp.MustCompile(`\b[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?[smhdwy]?\b`)
)

// metricNames are the metric names a PromQL expression reads.
func metricNames(expr string) []string {
	e := promqlStrings.ReplaceAllString(expr, `""`)
	e = promqlMatchers.ReplaceAllString(e, " ")
	e = promqlRanges.ReplaceAllString(e, " ")
	e = promqlGrouping.ReplaceAllString(e, " ")
	e = promqlNumber.ReplaceAllString(e, " ")
	var names []string
	for _, id := range promqlIdent.FindAllString(e, -1) {
		if !promqlWords[id] && !slices.Contains(names, id) {
			names = append(names, id)
		}
	}
	return names
}

// shippedQueries are the expressions of the dashboard and the alerts.
func shippedQueries(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	data, err := os.ReadFile(filepath.Join(root, "config", "grafana", "vobox-operator.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash any
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatal(err)
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				s, ok := c.(string)
				switch {
				case ok && k == "expr":
					out["dashboard "+path+".expr"] = s
				case ok && k == "definition":
					// A variable's label_values(METRIC, LABEL): the metric.
					if m := labelValues.FindStringSubmatch(s); m != nil {
						out["dashboard "+path+".definition"] = m[1]
					} else {
						t.Errorf("dashboard %s: %q is not label_values(METRIC, LABEL)", path, s)
					}
				}
				walk(path+"."+k, c)
			}
		case []any:
			for i, c := range x {
				walk(path+"["+strconv.Itoa(i)+"]", c)
			}
		}
	}
	walk("", dash)
	data, err = os.ReadFile(filepath.Join(root, "config", "prometheus", "monitor", "prometheus_rule.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var rule struct {
		Spec struct {
			Groups []struct {
				Rules []struct {
					Alert string `json:"alert"`
					Expr  string `json:"expr"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(data, &rule); err != nil {
		t.Fatal(err)
	}
	for _, g := range rule.Spec.Groups {
		for _, r := range g.Rules {
			out["alert "+r.Alert] = r.Expr
		}
	}
	return out
}

// exported are the metric families of a scrape, with the series names a
// histogram or summary adds.
func exported(body string) map[string]bool {
	names := map[string]bool{}
	for _, l := range strings.Split(body, "\n") {
		f := strings.Fields(l)
		if len(f) < 4 || f[0] != "#" || f[1] != "TYPE" {
			continue
		}
		names[f[2]] = true
		switch f[3] {
		case "histogram":
			names[f[2]+"_bucket"], names[f[2]+"_sum"], names[f[2]+"_count"] = true, true, true
		case "summary":
			names[f[2]+"_sum"], names[f[2]+"_count"] = true, true
		}
	}
	return names
}

// checkShippedQueries checks that every metric the dashboard and the alerts
// read is one the operator exported in this scrape.
func checkShippedQueries(t *testing.T, root, body string) {
	t.Helper()
	have := exported(body)
	if regexp.MustCompile(`(?m)^vobox_(interventions|hosts)\{([^}]*,)?namespace=`).MatchString(body) {
		t.Errorf("vobox_interventions or vobox_hosts still has the label namespace, which the Prometheus Operator renames exported_namespace")
	}
	queries := shippedQueries(t, root)
	if len(queries) < 20 {
		t.Fatalf("found only %d queries in the dashboard and the alerts", len(queries))
	}
	seen := map[string]bool{}
	for where, q := range queries {
		for _, name := range metricNames(q) {
			seen[name] = true
			switch {
			case slices.Contains(fromPrometheus, name):
			case have[name]:
				if why, ok := notExportedYet[name]; ok {
					t.Errorf("%s is exported now: remove it from notExportedYet (%s)", name, why)
				}
			case notExportedYet[name] != "":
				// Not in the scrape, but it must at least be a metric the
				// operator's code registers.
				if !registered(t, root, name) {
					t.Errorf("%s reads %s, which no operator code registers", where, name)
				}
				t.Logf("%s (%s) reads %s, which has no sample in this scrape: %s", where, q, name, notExportedYet[name])
			default:
				t.Errorf("%s reads %s, which the operator does not export (query %q)", where, name, q)
			}
		}
	}
	for _, want := range []string{"vobox_interventions", "vobox_hosts", "vobox_step_duration_seconds_bucket", "vobox_phase_duration_seconds_sum",
		"vobox_ssh_commands_total", "vobox_ssh_handshake_failures_total", "vobox_drift_total"} {
		if !seen[want] {
			t.Errorf("no shipped query reads %s", want)
		}
	}
}

// registered reports whether the operator's code registers a metric named
// name (a Name: "..." in an Opts literal of controllers or internal).
func registered(t *testing.T, root, name string) bool {
	t.Helper()
	for _, glob := range []string{"controllers/*.go", "internal/*/*.go"} {
		files, _ := filepath.Glob(filepath.Join(root, glob))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err == nil && strings.Contains(string(b), `Name: "`+name+`"`) {
				return true
			}
		}
	}
	return false
}

func TestMetricNames(t *testing.T) {
	for expr, want := range map[string][]string{
		`max by (intervention_namespace, intervention) (vobox_interventions{phase="Failed"}) == 1`:                                        {"vobox_interventions"},
		`histogram_quantile(0.95, sum by (le, step) (rate(vobox_step_duration_seconds_bucket[5m])))`:                                      {"vobox_step_duration_seconds_bucket"},
		"sum by (phase) (vobox_phase_duration_seconds_sum{result=\"succeeded\"})\n/\nsum by (phase) (vobox_phase_duration_seconds_count)": {"vobox_phase_duration_seconds_sum", "vobox_phase_duration_seconds_count"},
		`absent(up{job="a b"} == 1)`:                 {"up"},
		`sum(increase(vobox_drift_total[1h])) > 1e3`: {"vobox_drift_total"},
	} {
		if got := metricNames(expr); !slices.Equal(got, want) {
			t.Errorf("metricNames(%q) = %v, want %v", expr, got, want)
		}
	}
}
