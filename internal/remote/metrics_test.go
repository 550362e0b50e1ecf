package remote

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

func counterValue(t testing.TB, c prometheus.Metric) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	t.Fatalf("not a counter or gauge: %v", &m)
	return 0
}

func TestMetricsRegistered(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{}, sshdConfig{})
	f.run(t, "true")
	f.run(t, "false")
	if _, err := f.exec.Run(context.Background(), Target{Address: "x", User: "u", Credentials: f.creds}, Command{}); err == nil {
		t.Fatal("empty command accepted")
	}

	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]*dto.MetricFamily{}
	for _, mf := range families {
		seen[mf.GetName()] = mf
	}
	for _, name := range []string{
		"vobox_ssh_command_duration_seconds",
		"vobox_ssh_commands_total",
		"vobox_ssh_open_connections",
	} {
		if seen[name] == nil {
			t.Errorf("metric %s is not registered on controller-runtime's registry", name)
		}
	}
	for _, outcome := range []string{outcomeSuccess, outcomeExitNonzero, "invalid_request"} {
		if counterValue(t, commandsTotal.WithLabelValues(outcome)) < 1 {
			t.Errorf("vobox_ssh_commands_total{outcome=%q} not counted", outcome)
		}
	}
	if counterValue(t, openConnections) < 1 {
		t.Error("vobox_ssh_open_connections does not count the open connection")
	}
}
