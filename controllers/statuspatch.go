package controllers

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
)

// A pass changes a few host entries of a status that holds up to 256 of
// them. A merge patch (client.MergeFrom) marshals both whole objects, spec
// included, diffs them as generic maps and sends status.hosts whole (a
// merge patch replaces a list): at 1,000 simulated hosts that was most of
// the cost of a status write (docs/benchmarks-sim.md, cause 3). The status
// patch is a JSON patch (RFC 6902) instead: the fields of status that
// changed, and, while the host list keeps its names in order, only the host
// entries that changed, each guarded by a test of its name so that an entry
// is never written over another host's.

// patchOp is one RFC 6902 operation.
type patchOp struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	Value json.RawMessage `json:"value,omitempty"`
}

// statusPatch returns the JSON patch that turns original's status into
// current's, and whether there is anything to write.
func statusPatch(original, current *diracv1.VOBoxIntervention) (client.Patch, bool, error) {
	ops, err := statusOps(&original.Status, &current.Status)
	if err != nil || len(ops) == 0 {
		return nil, false, err
	}
	data, err := json.Marshal(ops)
	if err != nil {
		return nil, false, fmt.Errorf("failed to encode the status patch: %w", err)
	}
	return client.RawPatch(types.JSONPatchType, data), true, nil
}

// statusOps lists the operations from before to after.
func statusOps(before, after *diracv1.VOBoxInterventionStatus) ([]patchOp, error) {
	if equality.Semantic.DeepEqual(before, &diracv1.VOBoxInterventionStatus{}) {
		if equality.Semantic.DeepEqual(before, after) {
			return nil, nil
		}
		// Maybe no status on the object yet: the paths below it would not
		// exist. Adding it whole is right either way.
		whole, err := json.Marshal(after)
		if err != nil {
			return nil, fmt.Errorf("failed to encode the status: %w", err)
		}
		return []patchOp{{Op: "add", Path: "/status", Value: whole}}, nil
	}
	b, err := fields(before)
	if err != nil {
		return nil, err
	}
	a, err := fields(after)
	if err != nil {
		return nil, err
	}
	var ops []patchOp
	for _, k := range sortedKeys(a) {
		if k == "hosts" {
			continue
		}
		if old, ok := b[k]; !ok || string(old) != string(a[k]) {
			ops = append(ops, patchOp{Op: "add", Path: "/status/" + k, Value: a[k]})
		}
	}
	for _, k := range sortedKeys(b) {
		if _, ok := a[k]; !ok && k != "hosts" {
			ops = append(ops, patchOp{Op: "remove", Path: "/status/" + k})
		}
	}
	hosts, err := hostOps(before.Hosts, after.Hosts)
	return append(ops, hosts...), err
}

// hostOps lists the operations on status.hosts: the changed entries when
// both lists name the same hosts in the same order, else the whole list.
func hostOps(before, after []diracv1.HostStatus) ([]patchOp, error) {
	switch {
	case len(after) == 0 && len(before) == 0:
		return nil, nil
	case len(after) == 0:
		return []patchOp{{Op: "remove", Path: "/status/hosts"}}, nil
	case !sameNames(before, after):
		whole, err := json.Marshal(after)
		if err != nil {
			return nil, fmt.Errorf("failed to encode status.hosts: %w", err)
		}
		return []patchOp{{Op: "add", Path: "/status/hosts", Value: whole}}, nil
	}
	var ops []patchOp
	for i := range after {
		if equality.Semantic.DeepEqual(before[i], after[i]) {
			continue
		}
		entry, err := json.Marshal(after[i])
		if err != nil {
			return nil, fmt.Errorf("failed to encode status.hosts[%d]: %w", i, err)
		}
		name, _ := json.Marshal(after[i].Name)
		path := "/status/hosts/" + strconv.Itoa(i)
		ops = append(ops,
			patchOp{Op: "test", Path: path + "/name", Value: name},
			patchOp{Op: "replace", Path: path, Value: entry})
	}
	return ops, nil
}

// sameNames reports whether both lists name the same hosts in one order.
func sameNames(a, b []diracv1.HostStatus) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name {
			return false
		}
	}
	return true
}

// fields is the status's JSON fields, status.hosts left out of the
// encoding (it is compared entry by entry).
func fields(st *diracv1.VOBoxInterventionStatus) (map[string]json.RawMessage, error) {
	shallow := *st
	shallow.Hosts = nil
	data, err := json.Marshal(&shallow)
	if err != nil {
		return nil, fmt.Errorf("failed to encode the status: %w", err)
	}
	m := map[string]json.RawMessage{}
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("failed to decode the status: %w", err)
	}
	if len(st.Hosts) > 0 {
		m["hosts"] = nil // present, compared in hostOps
	}
	return m, nil
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
