package gitops

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
)

// healthKey is the argocd-cm key Argo CD reads a group/kind's health check from.
const healthKey = "resource.customizations.health.dirac.vobox.io_VOBoxIntervention"

var healthPath = filepath.Join("..", "..", "config", "argocd", "health.lua")

func healthScript(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(healthPath)
	if err != nil {
		t.Fatalf("failed to read the health check: %v", err)
	}
	return string(b)
}

// health is what a health check returned.
type health struct{ status, message string }

// argoHealth runs a health check as Argo CD does: a fresh Lua state with the
// libraries Argo CD opens (package, base, table, string, math), the object as
// the global obj, a deadline, and a table with a known status as the result.
func argoHealth(t *testing.T, script string, obj map[string]any) health {
	t.Helper()
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	for _, lib := range []struct {
		name string
		fn   lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage}, {lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable},
		{lua.StringLibName, lua.OpenString}, {lua.MathLibName, lua.OpenMath},
	} {
		L.Push(L.NewFunction(lib.fn))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	L.SetContext(ctx)
	L.SetGlobal("obj", toLua(L, obj))
	if err := L.DoString(script); err != nil {
		t.Fatalf("health check failed: %v", err)
	}
	ret, ok := L.Get(-1).(*lua.LTable)
	if !ok {
		t.Fatalf("health check returned %s, want a table", L.Get(-1).Type())
	}
	h := health{status: lua.LVAsString(ret.RawGetString("status")), message: lua.LVAsString(ret.RawGetString("message"))}
	switch h.status {
	case argoHealthy, argoProgressing, argoDegraded, argoSuspended, "Missing", "Unknown":
	default:
		t.Fatalf("health check returned status %q, which Argo CD does not know", h.status)
	}
	return h
}

// toLua converts a JSON-like value (as unstructured holds) to Lua, as Argo CD
// does: objects and arrays become tables (arrays from index 1), numbers floats.
func toLua(L *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(v)
	case string:
		return lua.LString(v)
	case int64:
		return lua.LNumber(v)
	case int:
		return lua.LNumber(v)
	case float64:
		return lua.LNumber(v)
	case map[string]any:
		tbl := L.NewTable()
		for k, e := range v {
			tbl.RawSetString(k, toLua(L, e))
		}
		return tbl
	case []any:
		tbl := L.NewTable()
		for i, e := range v {
			tbl.RawSetInt(i+1, toLua(L, e))
		}
		return tbl
	}
	panic("toLua: unexpected type")
}

// TestArgoCDHealthLifecycle runs health.lua over the life of an intervention
// kept in memory, its generation bumped on each spec change and its fresh
// status what the CRD defaults it to. TestLifecycle does the same on the API
// server's objects.
func TestArgoCDHealthLifecycle(t *testing.T) {
	script := healthScript(t)
	vbi := newIntervention("dirac")
	vbi.Generation = 1
	vbi.Status.ObservedGeneration = -1
	for _, st := range life {
		if st.spec != nil {
			st.spec(vbi)
			vbi.Generation++
		}
		if st.status != nil {
			st.status(vbi)
		}
		u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(vbi)
		if err != nil {
			t.Fatalf("failed to convert the intervention: %v", err)
		}
		if h := argoHealth(t, script, u); h.status != st.argo {
			t.Errorf("%s: health = %s (%s), want %s", st.name, h.status, h.message, st.argo)
		}
	}
}

// obj builds a raw intervention for the edge cases.
func obj(generation int64, spec map[string]any, status map[string]any) map[string]any {
	o := map[string]any{
		"apiVersion": diracv1.GroupVersion.String(),
		"kind":       "VOBoxIntervention",
		"metadata":   map[string]any{"name": "power-stop", "namespace": "dirac", "generation": generation},
		"spec":       map[string]any{"state": "Down"},
	}
	for k, v := range spec {
		o["spec"].(map[string]any)[k] = v
	}
	if status != nil {
		o["status"] = status
	}
	return o
}

func cond(typ, status, reason, message string, observedGeneration int64) map[string]any {
	c := map[string]any{"type": typ, "status": status, "reason": reason, "lastTransitionTime": "2026-01-01T00:00:00Z"}
	if message != "" {
		c["message"] = message
	}
	if observedGeneration != 0 {
		c["observedGeneration"] = observedGeneration
	}
	return c
}

func conds(c ...map[string]any) []any {
	out := make([]any, len(c))
	for i := range c {
		out[i] = c[i]
	}
	return out
}

// TestArgoCDHealthEdgeCases covers what the controller does not write in
// the normal course but Argo CD may still be shown.
func TestArgoCDHealthEdgeCases(t *testing.T) {
	script := healthScript(t)
	ready := cond("Ready", "True", "Succeeded", "All 2 hosts are Down and every check passed", 2)
	tests := []struct {
		name        string
		obj         map[string]any
		want        string
		wantMessage string
	}{
		{name: "no status at all", obj: obj(1, nil, nil), want: argoProgressing},
		{name: "status without observedGeneration", obj: obj(1, nil, map[string]any{}), want: argoProgressing},
		{name: "no generation (not from an API server)", obj: func() map[string]any {
			o := obj(0, nil, map[string]any{"observedGeneration": int64(1), "conditions": conds(cond("Ready", "True", "Succeeded", "done", 1))})
			delete(o["metadata"].(map[string]any), "generation")
			return o
		}(), want: argoHealthy},
		{name: "conditions of an older generation than the status",
			obj: obj(3, nil, map[string]any{"observedGeneration": int64(3), "conditions": conds(ready)}), want: argoProgressing},
		{name: "conditions without observedGeneration",
			obj: obj(2, nil, map[string]any{"observedGeneration": int64(2), "conditions": conds(cond("Ready", "True", "Succeeded", "done", 0))}), want: argoHealthy},
		{name: "observed, no conditions yet",
			obj: obj(2, nil, map[string]any{"observedGeneration": int64(2)}), want: argoProgressing, wantMessage: "Waiting for the operator"},
		{name: "stalled wins over suspend", obj: obj(2, map[string]any{"suspend": true}, map[string]any{"observedGeneration": int64(2),
			"conditions": conds(cond("Stalled", "True", "SecretNotFound", `Secret "vobox-ssh" not found`, 2))}),
			want: argoDegraded, wantMessage: `SecretNotFound: Secret "vobox-ssh" not found`},
		{name: "stalled without a message", obj: obj(2, nil, map[string]any{"observedGeneration": int64(2),
			"conditions": conds(cond("Stalled", "True", "Halted", "", 2))}), want: argoDegraded, wantMessage: "Halted"},
		{name: "done, then suspended: still healthy", obj: obj(2, map[string]any{"suspend": true},
			map[string]any{"observedGeneration": int64(2), "conditions": conds(ready)}), want: argoHealthy},
		{name: "suspend not yet seen", obj: obj(3, map[string]any{"suspend": true},
			map[string]any{"observedGeneration": int64(2), "conditions": conds(cond("Ready", "False", "Progressing", "working", 2))}),
			want: argoProgressing, wantMessage: "Waiting for the operator to act on generation 3"},
		{name: "working", obj: obj(2, nil, map[string]any{"observedGeneration": int64(2), "conditions": conds(
			cond("Ready", "False", "Progressing", "AgentsStopped: 0/1 hosts done", 2),
			cond("Reconciling", "True", "Progressing", "AgentsStopped: 0/1 hosts done", 2),
			cond("Stalled", "False", "Progressing", "Not stalled", 2))}),
			want: argoProgressing, wantMessage: "Progressing: AgentsStopped: 0/1 hosts done"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := argoHealth(t, script, tt.obj)
			if h.status != tt.want {
				t.Errorf("health = %s (%s), want %s", h.status, h.message, tt.want)
			}
			if tt.wantMessage != "" && h.message != tt.wantMessage {
				t.Errorf("message = %q, want %q", h.message, tt.wantMessage)
			}
		})
	}
}

// TestArgoCDConfigMap checks that config/argocd puts health.lua under the key
// Argo CD reads for our group and kind.
func TestArgoCDConfigMap(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "config", "argocd", "kustomization.yaml"))
	if err != nil {
		t.Fatalf("failed to read config/argocd/kustomization.yaml: %v", err)
	}
	var k struct {
		Namespace          string `json:"namespace"`
		ConfigMapGenerator []struct {
			Name  string   `json:"name"`
			Files []string `json:"files"`
		} `json:"configMapGenerator"`
	}
	if err := yaml.Unmarshal(b, &k); err != nil {
		t.Fatalf("failed to parse config/argocd/kustomization.yaml: %v", err)
	}
	if len(k.ConfigMapGenerator) != 1 || k.ConfigMapGenerator[0].Name != "argocd-cm" {
		t.Fatalf("want one generated ConfigMap argocd-cm, got %+v", k.ConfigMapGenerator)
	}
	want := healthKey + "=health.lua"
	if files := k.ConfigMapGenerator[0].Files; len(files) != 1 || strings.TrimSpace(files[0]) != want {
		t.Errorf("argocd-cm files = %q, want [%q]", files, want)
	}
	if k.Namespace != "argocd" {
		t.Errorf("namespace = %q, want argocd (Argo CD's default)", k.Namespace)
	}
}
