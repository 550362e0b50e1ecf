package v1alpha1_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	v1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
)

const samplesDir = "../../config/samples"

// validIntervention is the base every invalid case mutates: small, but with
// every part a case needs (an exclude list, an explicit address, a journal
// move, durations) so that each mutation breaks exactly one rule.
func validIntervention(namespace, name string) *v1.VOBoxIntervention {
	return &v1.VOBoxIntervention{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1.GroupVersion.String(), Kind: "VOBoxIntervention"},
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: v1.VOBoxInterventionSpec{
			State:  v1.StateDown,
			Reason: "power stop",
			SSH: v1.SSHSpec{
				SecretRef:      v1.SecretReference{Name: "vobox-ssh"},
				ConnectTimeout: metav1.Duration{Duration: 10 * time.Second},
			},
			Hosts: []v1.HostSpec{
				{Name: "volhcb18", Roles: []v1.Role{v1.RoleFramework}},
				{Name: "volhcb20", Roles: []v1.Role{v1.RoleAgents}, Exclude: []string{"WorkloadManagement_SiteDirector"}},
				{Name: "volhcb21", Roles: []v1.Role{v1.RoleDatabase}},
				{Name: "volhcb22", Address: "10.0.0.22", Roles: []v1.Role{v1.RoleDatabase}},
			},
			Database: v1.DatabaseSpec{InnodbLog: &v1.InnodbLogSpec{
				From:  "/opt/dirac/mysql/log",
				To:    "/home/dirac/mysql-log",
				Hosts: []string{"volhcb21"},
			}},
			Checks: v1.ChecksSpec{
				SettleDelay:     metav1.Duration{Duration: time.Minute},
				ComponentUptime: metav1.Duration{Duration: 10 * time.Second},
			},
			Strategy: v1.StrategySpec{
				StepTimeout: metav1.Duration{Duration: 5 * time.Minute},
				StopTimeout: metav1.Duration{Duration: 2 * time.Minute},
			},
		},
	}
}

// toUnstructured is the object as a client sends it: the JSON of the Go type.
func toUnstructured(t *testing.T, obj any) *unstructured.Unstructured {
	t.Helper()
	data, err := json.Marshal(obj)
	if err != nil {
		t.Fatalf("failed to marshal: %v", err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(data); err != nil {
		t.Fatalf("failed to unmarshal: %v", err)
	}
	return u
}

// at walks obj along path (map keys, or list indexes as ints) and returns
// the map found there.
func at(obj map[string]any, path ...any) map[string]any {
	var cur any = obj
	for _, p := range path {
		switch k := p.(type) {
		case string:
			cur = cur.(map[string]any)[k]
		case int:
			cur = cur.([]any)[k]
		}
	}
	return cur.(map[string]any)
}

func hosts(n int, addr func(i int) string) []v1.HostSpec {
	out := make([]v1.HostSpec, n)
	for i := range out {
		out[i] = v1.HostSpec{Name: fmt.Sprintf("volhcb%03d", i), Roles: []v1.Role{v1.RoleServices}}
		if addr != nil {
			out[i].Address = addr(i)
		}
	}
	return out
}

func duration(s string) metav1.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		panic(err)
	}
	return metav1.Duration{Duration: d}
}

func dryRunCreate(ctx context.Context, u *unstructured.Unstructured) error {
	return k8sClient.Create(ctx, u, client.DryRunAll)
}

func TestBaseIsValid(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	if err := dryRunCreate(t.Context(), toUnstructured(t, validIntervention(ns, "base"))); err != nil {
		t.Fatalf("the base of the invalid cases must be valid: %v", err)
	}
}

// TestInvalidRejected: each case breaks one rule of the base object; the API
// server must reject it with a message naming the offending field, so a user
// reading `kubectl apply` output knows what to fix.
func TestInvalidRejected(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)

	long := func(n int) string { return strings.Repeat("a", n) }
	cases := []struct {
		name   string
		mutate func(*v1.VOBoxIntervention)
		// raw edits the JSON form, for what the Go type cannot express
		// (a missing required field, a zero the type would omit).
		raw  func(obj map[string]any)
		want []string
	}{
		// state and reason
		{name: "unknown state", mutate: func(o *v1.VOBoxIntervention) { o.Spec.State = "Sideways" }, want: []string{"spec.state", "Unsupported value"}},
		{name: "lowercase state", mutate: func(o *v1.VOBoxIntervention) { o.Spec.State = "down" }, want: []string{"spec.state"}},
		{name: "missing state", raw: func(o map[string]any) { delete(at(o, "spec"), "state") }, want: []string{"spec.state", "Required value"}},
		{name: "missing reason", raw: func(o map[string]any) { delete(at(o, "spec"), "reason") }, want: []string{"spec.reason", "Required value"}},
		{name: "empty reason", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Reason = "" }, want: []string{"spec.reason"}},
		{name: "reason too long", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Reason = long(65) }, want: []string{"spec.reason", "Too long"}},
		{name: "reason with a shell metacharacter", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Reason = "power stop; reboot" }, want: []string{"spec.reason"}},
		{name: "reason with a quote", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Reason = "'power stop'" }, want: []string{"spec.reason"}},
		{name: "reason with a placeholder", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Reason = "{host}" }, want: []string{"spec.reason"}},

		// ssh
		{name: "missing ssh", raw: func(o map[string]any) { delete(at(o, "spec"), "ssh") }, want: []string{"spec.ssh", "Required value"}},
		{name: "missing secretRef", raw: func(o map[string]any) { delete(at(o, "spec", "ssh"), "secretRef") }, want: []string{"spec.ssh.secretRef", "Required value"}},
		{name: "empty secretRef name", mutate: func(o *v1.VOBoxIntervention) { o.Spec.SSH.SecretRef.Name = "" }, want: []string{"spec.ssh.secretRef.name"}},
		{name: "bad secretRef name", mutate: func(o *v1.VOBoxIntervention) { o.Spec.SSH.SecretRef.Name = "VOBox_SSH" }, want: []string{"spec.ssh.secretRef.name"}},
		{name: "uppercase ssh user", mutate: func(o *v1.VOBoxIntervention) { o.Spec.SSH.User = "Dirac" }, want: []string{"spec.ssh.user"}},
		{name: "ssh user with a shell metacharacter", mutate: func(o *v1.VOBoxIntervention) { o.Spec.SSH.User = "dirac;id" }, want: []string{"spec.ssh.user"}},
		{name: "ssh user starting with a dash", mutate: func(o *v1.VOBoxIntervention) { o.Spec.SSH.User = "-oProxyCommand" }, want: []string{"spec.ssh.user"}},
		{name: "ssh user too long", mutate: func(o *v1.VOBoxIntervention) { o.Spec.SSH.User = long(33) }, want: []string{"spec.ssh.user", "Too long"}},
		{name: "ssh port 0", raw: func(o map[string]any) { at(o, "spec", "ssh")["port"] = 0 }, want: []string{"spec.ssh.port"}},
		{name: "ssh port 70000", mutate: func(o *v1.VOBoxIntervention) { o.Spec.SSH.Port = 70000 }, want: []string{"spec.ssh.port"}},
		{name: "zero connectTimeout", raw: func(o map[string]any) { at(o, "spec", "ssh")["connectTimeout"] = "0s" }, want: []string{"spec.ssh.connectTimeout"}},
		{name: "negative connectTimeout", mutate: func(o *v1.VOBoxIntervention) { o.Spec.SSH.ConnectTimeout = duration("-1s") }, want: []string{"spec.ssh.connectTimeout"}},
		{name: "connectTimeout not a duration", raw: func(o map[string]any) { at(o, "spec", "ssh")["connectTimeout"] = "ten seconds" }, want: []string{"spec.ssh.connectTimeout"}},
		{name: "connectTimeout over 10m", mutate: func(o *v1.VOBoxIntervention) { o.Spec.SSH.ConnectTimeout = duration("11m") }, want: []string{"spec.ssh.connectTimeout"}},

		// layout
		{name: "relative diracRoot", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Layout.DiracRoot = "opt/dirac" }, want: []string{"spec.layout.diracRoot"}},
		{name: "diracRoot with ..", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Layout.DiracRoot = "/opt/dirac/../etc" }, want: []string{"spec.layout.diracRoot"}},
		{name: "diracRoot ending in ..", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Layout.DiracRoot = "/opt/dirac/.." }, want: []string{"spec.layout.diracRoot"}},
		{name: "diracRoot with .", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Layout.DiracRoot = "/opt/./dirac" }, want: []string{"spec.layout.diracRoot"}},
		{name: "diracRoot with ;", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Layout.DiracRoot = "/opt/dirac;reboot" }, want: []string{"spec.layout.diracRoot"}},
		{name: "diracRoot with //", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Layout.DiracRoot = "/opt//dirac" }, want: []string{"spec.layout.diracRoot"}},
		{name: "diracRoot with a trailing /", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Layout.DiracRoot = "/opt/dirac/" }, want: []string{"spec.layout.diracRoot"}},
		{name: "diracRoot with $", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Layout.DiracRoot = "/opt/$HOME" }, want: []string{"spec.layout.diracRoot"}},
		{name: "diracRoot with a space", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Layout.DiracRoot = "/opt/di rac" }, want: []string{"spec.layout.diracRoot"}},
		{name: "diracRoot /", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Layout.DiracRoot = "/" }, want: []string{"spec.layout.diracRoot"}},
		{name: "diracRoot too long", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Layout.DiracRoot = "/" + long(255) }, want: []string{"spec.layout.diracRoot"}},
		{name: "mysqlServer with a backtick", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Layout.MysqlServer = "/opt/`reboot`" }, want: []string{"spec.layout.mysqlServer"}},
		{name: "mysqlServer with ..", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Layout.MysqlServer = "/opt/../bin/sh" }, want: []string{"spec.layout.mysqlServer"}},

		// hosts: the list
		{name: "empty hosts", raw: func(o map[string]any) {
			at(o, "spec")["hosts"] = []any{}
			delete(at(o, "spec"), "database")
		}, want: []string{"spec.hosts"}},
		{name: "missing hosts", raw: func(o map[string]any) { delete(at(o, "spec"), "hosts") }, want: []string{"spec.hosts", "Required value"}},
		{name: "257 hosts", mutate: func(o *v1.VOBoxIntervention) {
			o.Spec.Hosts = hosts(257, nil)
			o.Spec.Database.InnodbLog = nil
		}, want: []string{"spec.hosts", "Too many"}},
		{name: "duplicate host names", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Hosts[1].Name = "volhcb18" }, want: []string{"spec.hosts[1]", "Duplicate value"}},
		{name: "duplicate explicit addresses", mutate: func(o *v1.VOBoxIntervention) {
			o.Spec.Hosts[0].Address = "volhcb.cern.ch"
			o.Spec.Hosts[1].Address = "volhcb.cern.ch"
		}, want: []string{"spec.hosts", "address must be unique"}},
		{name: "address equal to another host's defaulted address", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Hosts[3].Address = "volhcb21" }, want: []string{"spec.hosts", "address must be unique"}},

		// hosts: one host
		{name: "uppercase host name", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Hosts[0].Name = "VOLHCB18" }, want: []string{"spec.hosts[0].name"}},
		{name: "host name with an underscore", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Hosts[0].Name = "volhcb_18" }, want: []string{"spec.hosts[0].name"}},
		{name: "host name with a dot", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Hosts[0].Name = "volhcb18.cern.ch" }, want: []string{"spec.hosts[0].name"}},
		{name: "host name too long", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Hosts[0].Name = long(64) }, want: []string{"spec.hosts[0].name", "Too long"}},
		{name: "empty host name", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Hosts[0].Name = "" }, want: []string{"spec.hosts[0].name"}},
		{name: "address with a shell metacharacter", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Hosts[0].Address = "volhcb18;reboot" }, want: []string{"spec.hosts[0].address"}},
		{name: "address starting with a dash", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Hosts[0].Address = "-oProxyCommand=x" }, want: []string{"spec.hosts[0].address"}},
		{name: "address with an empty label", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Hosts[0].Address = "volhcb18..cern.ch" }, want: []string{"spec.hosts[0].address"}},
		{name: "address in brackets", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Hosts[0].Address = "[::1]" }, want: []string{"spec.hosts[0].address"}},
		{name: "address with a port", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Hosts[0].Address = "volhcb18:22" }, want: []string{"spec.hosts[0].address"}},
		{name: "empty address", raw: func(o map[string]any) { at(o, "spec", "hosts", 0)["address"] = "" }, want: []string{"spec.hosts[0].address"}},
		{name: "address too long", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Hosts[0].Address = long(254) }, want: []string{"spec.hosts[0].address", "Too long"}},
		{name: "host port 0", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Hosts[0].Port = ptr.To[int32](0) }, want: []string{"spec.hosts[0].port"}},
		{name: "host port 65536", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Hosts[0].Port = ptr.To[int32](65536) }, want: []string{"spec.hosts[0].port"}},
		{name: "no roles", raw: func(o map[string]any) { at(o, "spec", "hosts", 0)["roles"] = []any{} }, want: []string{"spec.hosts[0].roles"}},
		{name: "missing roles", raw: func(o map[string]any) { delete(at(o, "spec", "hosts", 0), "roles") }, want: []string{"spec.hosts[0].roles", "Required value"}},
		{name: "duplicate roles", mutate: func(o *v1.VOBoxIntervention) {
			o.Spec.Hosts[0].Roles = []v1.Role{v1.RoleFramework, v1.RoleServices, v1.RoleFramework}
		}, want: []string{"spec.hosts[0].roles[2]", "Duplicate value"}},
		{name: "unknown role", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Hosts[0].Roles = []v1.Role{"Web"} }, want: []string{"spec.hosts[0].roles[0]", "Unsupported value"}},
		{name: "five roles", mutate: func(o *v1.VOBoxIntervention) {
			o.Spec.Hosts[0].Roles = []v1.Role{v1.RoleDatabase, v1.RoleFramework, v1.RoleServices, v1.RoleAgents, v1.RoleAgents}
		}, want: []string{"spec.hosts[0].roles", "Too many"}},
		{name: "exclude with a glob", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Hosts[1].Exclude = []string{"WorkloadManagement_*"} }, want: []string{"spec.hosts[1].exclude[0]"}},
		{name: "exclude with a slash", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Hosts[1].Exclude = []string{"../runit"} }, want: []string{"spec.hosts[1].exclude[0]"}},
		{name: "exclude starting with an underscore", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Hosts[1].Exclude = []string{"_Agent"} }, want: []string{"spec.hosts[1].exclude[0]"}},
		{name: "exclude with a space", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Hosts[1].Exclude = []string{"a b"} }, want: []string{"spec.hosts[1].exclude[0]"}},
		{name: "exclude too long", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Hosts[1].Exclude = []string{long(129)} }, want: []string{"spec.hosts[1].exclude[0]", "Too long"}},
		{name: "duplicate exclude", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Hosts[1].Exclude = []string{"A_B", "A_B"} }, want: []string{"spec.hosts[1].exclude[1]", "Duplicate value"}},

		// maintenance
		{name: "unknown placeholder in set", mutate: func(o *v1.VOBoxIntervention) {
			o.Spec.Maintenance.Set = []string{"sms", "set", "maintenance", "{user}", "other", "{host}"}
		}, want: []string{"spec.maintenance.set[3]"}},
		{name: "unbalanced { in set", mutate: func(o *v1.VOBoxIntervention) {
			o.Spec.Maintenance.Set = []string{"sms", "set", "maintenance", "{reason", "other", "{host}"}
		}, want: []string{"spec.maintenance.set[3]"}},
		{name: "unbalanced } in clear", mutate: func(o *v1.VOBoxIntervention) {
			o.Spec.Maintenance.Clear = []string{"sms", "clear", "maintenance", "reason}", "{host}"}
		}, want: []string{"spec.maintenance.clear[3]"}},
		{name: "nested placeholder in clear", mutate: func(o *v1.VOBoxIntervention) {
			o.Spec.Maintenance.Clear = []string{"sms", "clear", "{{host}}"}
		}, want: []string{"spec.maintenance.clear[2]"}},
		{name: "empty set", raw: func(o map[string]any) { at(o, "spec")["maintenance"] = map[string]any{"set": []any{}} }, want: []string{"spec.maintenance.set"}},
		{name: "empty argument in clear", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Maintenance.Clear = []string{"sms", ""} }, want: []string{"spec.maintenance.clear[1]"}},
		{name: "runOn not a listed host", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Maintenance.RunOn = "volhcb99" }, want: []string{"spec.maintenance.runOn"}},

		// database
		{name: "innodbLog without to", raw: func(o map[string]any) { delete(at(o, "spec", "database", "innodbLog"), "to") }, want: []string{"spec.database.innodbLog.to", "Required value"}},
		{name: "relative innodbLog.to", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Database.InnodbLog.To = "mysql-log" }, want: []string{"spec.database.innodbLog.to"}},
		{name: "innodbLog.from with ..", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Database.InnodbLog.From = "/opt/dirac/../../etc" }, want: []string{"spec.database.innodbLog.from"}},
		{name: "innodbLog.hosts naming a non-Database host", mutate: func(o *v1.VOBoxIntervention) {
			o.Spec.Database.InnodbLog.Hosts = []string{"volhcb21", "volhcb20"}
		}, want: []string{"spec.database.innodbLog.hosts"}},
		{name: "innodbLog.hosts naming an unlisted host", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Database.InnodbLog.Hosts = []string{"volhcb99"} }, want: []string{"spec.database.innodbLog.hosts"}},

		// checks
		{name: "negative settleDelay", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Checks.SettleDelay = duration("-1s") }, want: []string{"spec.checks.settleDelay"}},
		{name: "settleDelay over 24h", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Checks.SettleDelay = duration("25h") }, want: []string{"spec.checks.settleDelay"}},
		{name: "negative componentUptime", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Checks.ComponentUptime = duration("-1s") }, want: []string{"spec.checks.componentUptime"}},
		{name: "componentUptime not a duration", raw: func(o map[string]any) { at(o, "spec", "checks")["componentUptime"] = "10" }, want: []string{"spec.checks.componentUptime"}},
		{name: "too many errorPatterns", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Checks.ErrorPatterns = make([]string, 17) }, want: []string{"spec.checks.errorPatterns", "Too many"}},
		{name: "over-long errorPattern", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Checks.ErrorPatterns = []string{"ERROR", long(129)} }, want: []string{"spec.checks.errorPatterns[1]", "Too long"}},
		{name: "empty errorPattern", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Checks.ErrorPatterns = []string{""} }, want: []string{"spec.checks.errorPatterns[0]"}},

		// strategy
		{name: "maxParallel < 0", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Strategy.MaxParallel = -1 }, want: []string{"spec.strategy.maxParallel"}},
		{name: "maxParallel > 256", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Strategy.MaxParallel = 257 }, want: []string{"spec.strategy.maxParallel"}},
		{name: "unknown failurePolicy", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Strategy.FailurePolicy = "Retry" }, want: []string{"spec.strategy.failurePolicy", "Unsupported value"}},
		{name: "zero stepTimeout", raw: func(o map[string]any) { at(o, "spec", "strategy")["stepTimeout"] = "0s" }, want: []string{"spec.strategy.stepTimeout"}},
		{name: "negative stepTimeout", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Strategy.StepTimeout = duration("-1s") }, want: []string{"spec.strategy.stepTimeout"}},
		{name: "negative stopTimeout", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Strategy.StopTimeout = duration("-1s") }, want: []string{"spec.strategy.stopTimeout"}},
		{name: "stopTimeout over 24h", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Strategy.StopTimeout = duration("24h1s") }, want: []string{"spec.strategy.stopTimeout"}},

		// drift, reboot tracking
		{name: "driftInterval below 10s", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Checks.DriftInterval = duration("9s") }, want: []string{"spec.checks.driftInterval"}},
		{name: "negative driftInterval", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Checks.DriftInterval = duration("-1m") }, want: []string{"spec.checks.driftInterval"}},
		{name: "unknown driftPolicy", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Strategy.DriftPolicy = "Ignore" }, want: []string{"spec.strategy.driftPolicy", "Unsupported value"}},
		{name: "unknown errorLevel", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Checks.ErrorLevels = []string{"ERROR", "BAD"} }, want: []string{"spec.checks.errorLevels[1]", "Unsupported value"}},
		{name: "startFirst with a shell metacharacter", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Checks.StartFirst = []string{"Configuration_*;reboot"} }, want: []string{"spec.checks.startFirst[0]"}},
		{name: "startLast with a slash", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Checks.StartLast = []string{"../x"} }, want: []string{"spec.checks.startLast[0]"}},
		{name: "runitBin relative", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Layout.RunitBin = "sbin" }, want: []string{"spec.layout.runitBin"}},
		{name: "runitBin with ..", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Layout.RunitBin = "/opt/../sbin" }, want: []string{"spec.layout.runitBin"}},
		{name: "database service without stop", raw: func(o map[string]any) {
			at(o, "spec", "database")["service"] = map[string]any{"start": []any{"sudo", "systemctl", "start", "mariadb"}}
		}, want: []string{"spec.database.service.stop", "Required value"}},
		{name: "database service argv with an unknown placeholder", mutate: func(o *v1.VOBoxIntervention) {
			o.Spec.Database.Service = &v1.DatabaseServiceSpec{Start: []string{"systemctl", "start", "{unit}"}, Stop: []string{"systemctl", "stop", "mariadb"}}
		}, want: []string{"spec.database.service.start[2]"}},

		// cycle, reboot, rolling, schedule, approvals
		{name: "rolling without cycle", mutate: func(o *v1.VOBoxIntervention) {
			o.Spec.State = v1.StateUp
			o.Spec.Strategy.Rolling = &v1.RollingSpec{MaxUnavailable: 1}
		}, want: []string{"spec.strategy.rolling", "spec.cycle"}},
		{name: "maxUnavailable 0", mutate: func(o *v1.VOBoxIntervention) {
			o.Spec.State = v1.StateUp
			o.Spec.Cycle = "k1"
			o.Spec.Strategy.Rolling = &v1.RollingSpec{MaxUnavailable: 0}
		}, want: []string{"spec.strategy.rolling.maxUnavailable"}},
		{name: "cycle with state Down", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Cycle = "k1" }, want: []string{"spec.cycle", "state Up"}},
		{name: "cycle with a space", mutate: func(o *v1.VOBoxIntervention) {
			o.Spec.State = v1.StateUp
			o.Spec.Cycle = "kernel patch"
		}, want: []string{"spec.cycle"}},
		{name: "unknown tier in approvals", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Strategy.Approvals = []string{"AgentsStarted", "Coffee"} }, want: []string{"spec.strategy.approvals[1]", "Unsupported value"}},
		{name: "reboot timeout below 1m", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Reboot = &v1.RebootSpec{Timeout: duration("59s")} }, want: []string{"spec.reboot.timeout"}},
		{name: "reboot command with an unknown placeholder", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Reboot = &v1.RebootSpec{Command: []string{"sudo", "{cmd}"}} }, want: []string{"spec.reboot.command[1]"}},
		{name: "window start malformed", mutate: func(o *v1.VOBoxIntervention) {
			o.Spec.Schedule = &v1.ScheduleSpec{Window: &v1.WindowSpec{Start: "6:00", End: "09:00"}}
		}, want: []string{"spec.schedule.window.start"}},
		{name: "window end 24:00", mutate: func(o *v1.VOBoxIntervention) {
			o.Spec.Schedule = &v1.ScheduleSpec{Window: &v1.WindowSpec{Start: "06:00", End: "24:00"}}
		}, want: []string{"spec.schedule.window.end"}},
		{name: "window unknown day", mutate: func(o *v1.VOBoxIntervention) {
			o.Spec.Schedule = &v1.ScheduleSpec{Window: &v1.WindowSpec{Days: []v1.Weekday{"Monday"}, Start: "06:00", End: "09:00"}}
		}, want: []string{"spec.schedule.window.days[0]", "Unsupported value"}},
		{name: "notify without secret name", raw: func(o map[string]any) { at(o, "spec")["notify"] = map[string]any{"urlSecretRef": map[string]any{}} }, want: []string{"spec.notify.urlSecretRef.name", "Required value"}},
	}

	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			obj := validIntervention(ns, fmt.Sprintf("invalid-%d", i))
			if tc.mutate != nil {
				tc.mutate(obj)
			}
			u := toUnstructured(t, obj)
			if tc.raw != nil {
				tc.raw(u.Object)
			}
			err := dryRunCreate(t.Context(), u)
			if err == nil {
				t.Fatalf("accepted; want rejected with %q", tc.want)
			}
			if !apierrors.IsInvalid(err) {
				t.Fatalf("want an Invalid error, got: %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
			t.Logf("rejected: %v", err)
		})
	}
}

// TestValidAccepted guards against a schema stricter than the API promises.
func TestValidAccepted(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)

	cases := []struct {
		name   string
		mutate func(*v1.VOBoxIntervention)
		raw    func(obj map[string]any)
	}{
		{name: "state Up", mutate: func(o *v1.VOBoxIntervention) { o.Spec.State = v1.StateUp }},
		{name: "reason of 64 characters", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Reason = strings.Repeat("x", 64) }},
		{name: "reason with every allowed character", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Reason = "Kernel 2.6.32-71: CVE_2011 x" }},
		{name: "one-character host name", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Hosts[0].Name = "a" }},
		{name: "host name of 63 characters", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Hosts[0].Name = strings.Repeat("v", 63) }},
		{name: "FQDN address", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Hosts[0].Address = "volhcb18.cern.ch" }},
		{name: "IPv6 address", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Hosts[0].Address = "2001:db8::18" }},
		{name: "address equal to its own name", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Hosts[0].Address = "volhcb18" }},
		{name: "every role", mutate: func(o *v1.VOBoxIntervention) {
			o.Spec.Hosts[0].Roles = []v1.Role{v1.RoleDatabase, v1.RoleFramework, v1.RoleServices, v1.RoleAgents}
		}},
		{name: "host port", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Hosts[0].Port = ptr.To[int32](2222) }},
		{name: "exclude with dots and dashes", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Hosts[1].Exclude = []string{"Framework_Sys-Admin.1"} }},
		{name: "custom maintenance commands", mutate: func(o *v1.VOBoxIntervention) {
			o.Spec.Maintenance.Set = []string{"/usr/local/bin/maint", "--on", "--host={host}", "--why={reason} ({host})"}
			o.Spec.Maintenance.Clear = []string{"/usr/local/bin/maint", "--off", "{host}"}
		}},
		{name: "maintenance disabled", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Maintenance.Enabled = ptr.To(false) }},
		{name: "runOn a listed host", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Maintenance.RunOn = "volhcb20" }},
		{name: "innodbLog on every Database host by default", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Database.InnodbLog.Hosts = nil }},
		{name: "innodbLog.hosts on a host with several roles", mutate: func(o *v1.VOBoxIntervention) {
			o.Spec.Hosts[0].Roles = []v1.Role{v1.RoleFramework, v1.RoleDatabase}
			o.Spec.Database.InnodbLog.Hosts = []string{"volhcb18", "volhcb22"}
		}},
		{name: "path with dots inside names", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Layout.DiracRoot = "/opt/dirac.v6r22/.hidden/a..b" }},
		// Zero durations need the JSON form: the Go types omit a zero, which
		// then reads as unset and takes the default.
		{name: "zero settleDelay", raw: func(o map[string]any) { at(o, "spec", "checks")["settleDelay"] = "0s" }},
		{name: "zero componentUptime", raw: func(o map[string]any) { at(o, "spec", "checks")["componentUptime"] = "0s" }},
		{name: "compound durations", mutate: func(o *v1.VOBoxIntervention) {
			o.Spec.Strategy.StepTimeout = duration("1h30m")
			o.Spec.SSH.ConnectTimeout = duration("1.5s")
		}},
		{name: "16 errorPatterns", mutate: func(o *v1.VOBoxIntervention) {
			o.Spec.Checks.ErrorPatterns = slices.Repeat([]string{strings.Repeat("E", 128)}, 16)
		}},
		{name: "maxParallel 1", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Strategy.MaxParallel = 1 }},
		{name: "failurePolicy Continue", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Strategy.FailurePolicy = v1.FailurePolicyContinue }},
		{name: "suspended", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Suspend = true }},
		{name: "driftInterval 0s disables", raw: func(o map[string]any) { at(o, "spec", "checks")["driftInterval"] = "0s" }},
		{name: "driftInterval 10s", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Checks.DriftInterval = duration("10s") }},
		{name: "driftPolicy Report, keepStopped, requireReboot", mutate: func(o *v1.VOBoxIntervention) {
			o.Spec.Strategy.DriftPolicy = v1.DriftPolicyReport
			o.Spec.Database.KeepStopped = true
			o.Spec.Checks.RequireReboot = true
		}},
		{name: "modern site: system database, sbin runit, level checks, start order", mutate: func(o *v1.VOBoxIntervention) {
			o.Spec.Database.Service = &v1.DatabaseServiceSpec{
				Start: []string{"sudo", "systemctl", "start", "mariadb"},
				Stop:  []string{"sudo", "systemctl", "stop", "mariadb"},
				Ready: []string{"mysqladmin", "--socket=/run/mysqld/mysqld.sock", "ping"},
			}
			o.Spec.Layout.RunitBin = "/sbin"
			o.Spec.Checks.ErrorLevels = []string{"ERROR", "FATAL", "WARN"}
			o.Spec.Checks.StartFirst = []string{"Configuration_*", "Tornado_CS*"}
			o.Spec.Checks.StartLast = []string{"Framework_SystemAdministrator"}
		}},
		{name: "rolling cycle with reboot, window and approvals", mutate: func(o *v1.VOBoxIntervention) {
			o.Spec.State = v1.StateUp
			o.Spec.Cycle = "kernel-2026-11-30"
			o.Spec.Strategy.Rolling = &v1.RollingSpec{MaxUnavailable: 1}
			o.Spec.Reboot = &v1.RebootSpec{Timeout: duration("1m")}
			notBefore := metav1.NewTime(time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC))
			o.Spec.Schedule = &v1.ScheduleSpec{NotBefore: &notBefore, Window: &v1.WindowSpec{
				Days: []v1.Weekday{"Tue", "Thu"}, Start: "22:00", End: "02:00", TimeZone: "Europe/Zurich",
			}}
			o.Spec.Strategy.Approvals = []string{v1.RebootedCondition, v1.AgentsStartedCondition}
			o.Spec.Notify = &v1.NotifySpec{URLSecretRef: v1.SecretKeyReference{Name: "vobox-notify"}}
		}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			obj := validIntervention(ns, fmt.Sprintf("valid-%d", i))
			if tc.mutate != nil {
				tc.mutate(obj)
			}
			u := toUnstructured(t, obj)
			if tc.raw != nil {
				tc.raw(u.Object)
			}
			if err := dryRunCreate(t.Context(), u); err != nil {
				t.Fatalf("rejected: %v", err)
			}
		})
	}
}

// TestMaxHostsWithinCostBudget: the pairwise address-uniqueness rule is the
// most expensive one; at the list's maximum, with the longest addresses, it
// must still fit the API server's CEL cost budget.
func TestMaxHostsWithinCostBudget(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	obj := validIntervention(ns, "max-hosts")
	obj.Spec.Hosts = hosts(256, func(i int) string {
		// 253 characters, unique only in the first label, so every
		// comparison has to read far.
		return fmt.Sprintf("h%03d.%s", i, strings.Repeat("a.", 123)+"ch")
	})
	obj.Spec.Database.InnodbLog = nil
	if n := len(obj.Spec.Hosts[0].Address); n != 253 {
		t.Fatalf("test address has %d characters, want 253", n)
	}
	if err := k8sClient.Create(t.Context(), obj); err != nil {
		t.Fatalf("256 hosts with unique addresses rejected: %v", err)
	}
	// An update runs the immutability rule too, in the same budget.
	obj.Spec.State = v1.StateUp
	if err := k8sClient.Update(t.Context(), obj); err != nil {
		t.Fatalf("update of an intervention with 256 hosts rejected: %v", err)
	}
}

// TestMaxJournalHostsWithinCostBudget: the innodbLog.hosts rule looks every
// listed name up in spec.hosts; at both lists' maximum it must still fit.
func TestMaxJournalHostsWithinCostBudget(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	obj := validIntervention(ns, "max-journal-hosts")
	obj.Spec.Hosts = hosts(256, nil)
	names := make([]string, len(obj.Spec.Hosts))
	for i := range obj.Spec.Hosts {
		// 63 characters, unique only at the end.
		obj.Spec.Hosts[i].Name = fmt.Sprintf("%s%03d", strings.Repeat("v", 60), i)
		obj.Spec.Hosts[i].Roles = []v1.Role{v1.RoleAgents, v1.RoleServices, v1.RoleFramework, v1.RoleDatabase}
		names[i] = obj.Spec.Hosts[i].Name
	}
	obj.Spec.Database.InnodbLog.Hosts = names
	obj.Spec.Maintenance.RunOn = names[len(names)-1]
	if err := dryRunCreate(t.Context(), toUnstructured(t, obj)); err != nil {
		t.Fatalf("256 journal hosts rejected: %v", err)
	}
}

// TestHostsImmutable: a different set of hosts is a new intervention; the
// rest of the spec (state above all) may change.
func TestHostsImmutable(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ns := newNamespace(t)
	obj := validIntervention(ns, "immutable")
	if err := k8sClient.Create(ctx, obj); err != nil {
		t.Fatalf("failed to create: %v", err)
	}

	cases := []struct {
		name   string
		mutate func(*v1.VOBoxIntervention)
	}{
		{name: "host added", mutate: func(o *v1.VOBoxIntervention) {
			o.Spec.Hosts = append(o.Spec.Hosts, v1.HostSpec{Name: "volhcb23", Roles: []v1.Role{v1.RoleDatabase}})
		}},
		{name: "host removed", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Hosts = o.Spec.Hosts[:3] }},
		{name: "host renamed", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Hosts[0].Name = "volhcb19" }},
		{name: "role changed", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Hosts[0].Roles = []v1.Role{v1.RoleServices} }},
		{name: "address changed", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Hosts[3].Address = "10.0.0.23" }},
		{name: "exclude changed", mutate: func(o *v1.VOBoxIntervention) { o.Spec.Hosts[1].Exclude = nil }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cur := &v1.VOBoxIntervention{}
			if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), cur); err != nil {
				t.Fatalf("failed to get: %v", err)
			}
			tc.mutate(cur)
			err := k8sClient.Update(ctx, cur)
			if err == nil {
				t.Fatal("update accepted; want spec.hosts immutable")
			}
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.hosts is immutable") {
				t.Fatalf("want an Invalid error naming spec.hosts, got: %v", err)
			}
		})
	}

	t.Run("state and reason may change", func(t *testing.T) {
		cur := &v1.VOBoxIntervention{}
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), cur); err != nil {
			t.Fatalf("failed to get: %v", err)
		}
		cur.Spec.State = v1.StateUp
		cur.Spec.Reason = "power back"
		cur.Spec.Suspend = true
		if err := k8sClient.Update(ctx, cur); err != nil {
			t.Fatalf("update of state, reason and suspend rejected: %v", err)
		}
	})
}

// wantDefaults is what the API documents for every field left out.
func wantDefaults(t *testing.T, got *v1.VOBoxIntervention) {
	t.Helper()
	s := got.Spec
	check := func(field string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", field, got, want)
		}
	}
	check("spec.ssh.user", s.SSH.User, "dirac")
	check("spec.ssh.port", s.SSH.Port, int32(22))
	check("spec.ssh.connectTimeout", s.SSH.ConnectTimeout.Duration, 10*time.Second)
	check("spec.layout.diracRoot", s.Layout.DiracRoot, "/opt/dirac")
	check("spec.layout.mysqlServer", s.Layout.MysqlServer, "/opt/dirac/pro/mysql/share/mysql/mysql.server")
	check("spec.hosts[0].address", s.Hosts[0].Address, "")
	check("spec.maintenance.enabled", s.Maintenance.Enabled, ptr.To(true))
	check("spec.maintenance.set", s.Maintenance.Set, []string{"sms", "set", "maintenance", "{reason}", "other", "{host}"})
	check("spec.maintenance.clear", s.Maintenance.Clear, []string{"sms", "clear", "maintenance", "{reason}", "{host}"})
	check("spec.maintenance.runOn", s.Maintenance.RunOn, "")
	check("spec.database.innodbLog", s.Database.InnodbLog, (*v1.InnodbLogSpec)(nil))
	check("spec.checks.settleDelay", s.Checks.SettleDelay.Duration, 60*time.Second)
	check("spec.checks.componentUptime", s.Checks.ComponentUptime.Duration, 10*time.Second)
	check("spec.checks.errorPatterns", s.Checks.ErrorPatterns, []string{"Traceback"})
	check("spec.strategy.maxParallel", s.Strategy.MaxParallel, int32(0))
	check("spec.strategy.failurePolicy", s.Strategy.FailurePolicy, v1.FailurePolicyHalt)
	check("spec.strategy.stepTimeout", s.Strategy.StepTimeout.Duration, 5*time.Minute)
	check("spec.strategy.stopTimeout", s.Strategy.StopTimeout.Duration, 2*time.Minute)
	check("spec.suspend", s.Suspend, false)
	check("spec.checks.errorLevels", s.Checks.ErrorLevels, []string{"ERROR", "FATAL"})
	check("spec.checks.startFirst", s.Checks.StartFirst, []string{"Configuration_*"})
	check("spec.checks.startLast", s.Checks.StartLast, []string{"Framework_SystemAdministrator"})
	check("spec.checks.driftInterval", s.Checks.DriftInterval.Duration, 5*time.Minute)
	check("spec.checks.requireReboot", s.Checks.RequireReboot, false)
	check("spec.strategy.driftPolicy", s.Strategy.DriftPolicy, v1.DriftPolicyCorrect)
	check("spec.strategy.rolling", s.Strategy.Rolling, (*v1.RollingSpec)(nil))
	check("spec.reboot", s.Reboot, (*v1.RebootSpec)(nil))
	check("spec.cycle", s.Cycle, "")
	check("status.observedGeneration", got.Status.ObservedGeneration, int64(-1))
}

const minimalYAML = `
apiVersion: dirac.vobox.io/v1alpha1
kind: VOBoxIntervention
metadata:
  name: minimal
spec:
  state: Down
  reason: power stop
  ssh:
    secretRef:
      name: vobox-ssh
  hosts:
  - name: volhcb20
    roles: [Agents]
`

// TestDefaults: a minimal manifest, as a user writes it, reads back with
// every default the API documents.
func TestDefaults(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ns := newNamespace(t)

	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(minimalYAML), &u.Object); err != nil {
		t.Fatalf("failed to parse: %v", err)
	}
	u.SetNamespace(ns)
	if err := k8sClient.Create(ctx, u); err != nil {
		t.Fatalf("failed to create: %v", err)
	}
	got := &v1.VOBoxIntervention{}
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(u), got); err != nil {
		t.Fatalf("failed to get: %v", err)
	}
	wantDefaults(t, got)
	if len(got.Spec.Hosts) != 1 || got.Spec.Hosts[0].Port != nil || len(got.Spec.Hosts[0].Exclude) != 0 {
		t.Errorf("spec.hosts = %+v, want one host with no port and no exclude", got.Spec.Hosts)
	}
}

// TestDefaultsFromGo: the same minimal object built with the Go types, as a
// controller or a Go client would: zero values must not be sent as values
// (a "0s" stepTimeout would be rejected, not defaulted).
func TestDefaultsFromGo(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ns := newNamespace(t)

	obj := &v1.VOBoxIntervention{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "minimal-go"},
		Spec: v1.VOBoxInterventionSpec{
			State:  v1.StateDown,
			Reason: "power stop",
			SSH:    v1.SSHSpec{SecretRef: v1.SecretReference{Name: "vobox-ssh"}},
			Hosts:  []v1.HostSpec{{Name: "volhcb20", Roles: []v1.Role{v1.RoleAgents}}},
		},
	}
	if err := k8sClient.Create(ctx, obj); err != nil {
		t.Fatalf("failed to create a minimal object from Go: %v", err)
	}
	wantDefaults(t, obj)
}

// TestSamples: every manifest in config/samples is accepted by the API server
// and listed in its kustomization.
func TestSamples(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ns := newNamespace(t)

	files, err := filepath.Glob(filepath.Join(samplesDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	kustomization, err := os.ReadFile(filepath.Join(samplesDir, "kustomization.yaml"))
	if err != nil {
		t.Fatalf("failed to read the samples' kustomization: %v", err)
	}
	var k struct {
		Resources []string `json:"resources"`
	}
	if err := yaml.Unmarshal(kustomization, &k); err != nil {
		t.Fatalf("failed to parse the samples' kustomization: %v", err)
	}

	interventions := 0
	for _, file := range files {
		base := filepath.Base(file)
		if base == "kustomization.yaml" {
			continue
		}
		if !slices.Contains(k.Resources, base) {
			t.Errorf("%s is not listed in %s/kustomization.yaml", base, samplesDir)
		}
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
		for {
			u := &unstructured.Unstructured{}
			if err := dec.Decode(&u.Object); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				t.Fatalf("%s: failed to parse: %v", base, err)
			}
			if len(u.Object) == 0 {
				continue
			}
			u.SetNamespace(ns)
			// Create for real, not only dry-run: reading back proves the
			// stored object still decodes into the Go types.
			if err := k8sClient.Create(ctx, u); err != nil {
				t.Errorf("%s: %s %s rejected: %v", base, u.GetKind(), u.GetName(), err)
				continue
			}
			switch u.GetKind() {
			case "VOBoxIntervention":
				interventions++
				got := &v1.VOBoxIntervention{}
				if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(u), got); err != nil {
					t.Errorf("%s: failed to read back: %v", base, err)
				}
			case "Secret":
				got := &corev1.Secret{}
				if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(u), got); err != nil {
					t.Fatalf("%s: failed to read back: %v", base, err)
				}
				if got.Type != corev1.SecretTypeSSHAuth {
					t.Errorf("%s: type %q, want %q", base, got.Type, corev1.SecretTypeSSHAuth)
				}
				for _, key := range []string{corev1.SSHAuthPrivateKey, "known_hosts"} {
					if len(got.Data[key]) == 0 {
						t.Errorf("%s: key %q missing", base, key)
					}
				}
			}
		}
	}
	for _, r := range k.Resources {
		if _, err := os.Stat(filepath.Join(samplesDir, r)); err != nil {
			t.Errorf("kustomization.yaml lists %s: %v", r, err)
		}
	}
	if interventions == 0 {
		t.Fatalf("no VOBoxIntervention found in %s", samplesDir)
	}
}

// TestProcedureSample pins the sample to the procedure document: the hosts,
// their roles and the journal move of step 3.
func TestProcedureSample(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join(samplesDir, "dirac_v1alpha1_voboxintervention.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	got := &v1.VOBoxIntervention{}
	if err := yaml.UnmarshalStrict(data, got); err != nil {
		t.Fatalf("failed to parse strictly into the Go types: %v", err)
	}
	if got.Name != "power-stop" || got.Spec.State != v1.StateDown || got.Spec.Reason != "power stop" || got.Spec.SSH.SecretRef.Name != "vobox-ssh" {
		t.Errorf("name/state/reason/secret = %s/%s/%q/%s, want power-stop/Down/\"power stop\"/vobox-ssh",
			got.Name, got.Spec.State, got.Spec.Reason, got.Spec.SSH.SecretRef.Name)
	}
	roles := map[string][]v1.Role{}
	for _, h := range got.Spec.Hosts {
		roles[h.Name] = h.Roles
	}
	want := map[string][]v1.Role{
		"volhcb15": {v1.RoleServices}, "volhcb17": {v1.RoleServices}, "volhcb19": {v1.RoleServices},
		"volhcb18": {v1.RoleFramework},
		"volhcb20": {v1.RoleAgents},
		"volhcb21": {v1.RoleDatabase}, "volhcb22": {v1.RoleDatabase}, "volhcb23": {v1.RoleDatabase},
		"volhcb24": {v1.RoleDatabase}, "volhcb25": {v1.RoleDatabase}, "volhcb26": {v1.RoleDatabase},
	}
	if !reflect.DeepEqual(roles, want) {
		t.Errorf("hosts and roles = %v, want %v", roles, want)
	}
	j := got.Spec.Database.InnodbLog
	if j == nil || j.To != "/home/dirac/mysql-log" || !reflect.DeepEqual(j.Hosts, []string{"volhcb21", "volhcb22", "volhcb23", "volhcb24"}) {
		t.Errorf("spec.database.innodbLog = %+v, want to /home/dirac/mysql-log on volhcb21-24", j)
	}
}

// TestNestedDefaults: optional blocks, once present, get their own defaults:
// an empty reboot reboots with sudo /sbin/reboot within 15 minutes, a
// database service is ready when mysqladmin ping answers, a notify Secret
// key is "url", a window's time zone UTC.
func TestNestedDefaults(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ns := newNamespace(t)
	obj := validIntervention(ns, "nested-defaults")
	obj.Spec.State = v1.StateUp
	obj.Spec.Cycle = "k1"
	u := toUnstructured(t, obj)
	spec := at(u.Object, "spec")
	spec["reboot"] = map[string]any{}
	spec["notify"] = map[string]any{"urlSecretRef": map[string]any{"name": "vobox-notify"}}
	spec["schedule"] = map[string]any{"window": map[string]any{"start": "06:00", "end": "09:00"}}
	at(u.Object, "spec", "database")["service"] = map[string]any{
		"start": []any{"sudo", "systemctl", "start", "mariadb"},
		"stop":  []any{"sudo", "systemctl", "stop", "mariadb"},
	}
	if err := k8sClient.Create(ctx, u); err != nil {
		t.Fatalf("failed to create: %v", err)
	}
	got := &v1.VOBoxIntervention{}
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(u), got); err != nil {
		t.Fatalf("failed to get: %v", err)
	}
	if r := got.Spec.Reboot; r == nil || !reflect.DeepEqual(r.Command, []string{"sudo", "/sbin/reboot"}) || r.Timeout.Duration != 15*time.Minute {
		t.Errorf("spec.reboot = %+v, want command [sudo /sbin/reboot] and timeout 15m", r)
	}
	if s := got.Spec.Database.Service; s == nil || !reflect.DeepEqual(s.Ready, []string{"mysqladmin", "ping"}) {
		t.Errorf("spec.database.service = %+v, want ready [mysqladmin ping]", s)
	}
	if n := got.Spec.Notify; n == nil || n.URLSecretRef.Key != "url" {
		t.Errorf("spec.notify = %+v, want key url", n)
	}
	if w := got.Spec.Schedule.Window; w.TimeZone != "UTC" {
		t.Errorf("spec.schedule.window.timeZone = %q, want UTC", w.TimeZone)
	}
}

// TestSSHSecretVersionBounded: status.sshSecretVersion (a Secret's
// resourceVersion, issue 13.4) is bounded.
func TestSSHSecretVersionBounded(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	obj := validIntervention(newNamespace(t), "secret-version")
	if err := k8sClient.Create(ctx, obj); err != nil {
		t.Fatalf("failed to create: %v", err)
	}
	obj.Status.SSHSecretVersion = strings.Repeat("9", 64)
	if err := k8sClient.Status().Update(ctx, obj); err != nil {
		t.Fatalf("a 64-character sshSecretVersion rejected: %v", err)
	}
	obj.Status.SSHSecretVersion = strings.Repeat("9", 65)
	err := k8sClient.Status().Update(ctx, obj)
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "status.sshSecretVersion") {
		t.Fatalf("want an Invalid error naming status.sshSecretVersion, got: %v", err)
	}
}
