// Package approval reads the approvals of gated tiers from an intervention's
// annotations (written by kubectl vobox approve) and says whether a tier may
// start. An approval counts only for the generation it names: a changed spec
// needs a new approval.
package approval

import (
	"encoding/json"
	"slices"
	"strings"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
)

// FromAnnotations returns the valid approvals for generation, sorted by tier,
// for status.approvals. Annotations that do not parse, name a tier that is not
// gated, or approve another generation are ignored.
func FromAnnotations(annotations map[string]string, gated []string, generation int64) []diracv1.ApprovalStatus {
	var out []diracv1.ApprovalStatus
	for k, v := range annotations {
		tier, ok := strings.CutPrefix(k, diracv1.ApprovalAnnotationPrefix)
		if !ok || !slices.Contains(gated, tier) {
			continue
		}
		var rec diracv1.ApprovalRecord
		if err := json.Unmarshal([]byte(v), &rec); err != nil || rec.Generation != generation {
			continue
		}
		at := rec.Time
		out = append(out, diracv1.ApprovalStatus{Tier: tier, User: rec.User, ApprovedAt: &at, Generation: rec.Generation})
	}
	slices.SortFunc(out, func(a, b diracv1.ApprovalStatus) int { return strings.Compare(a.Tier, b.Tier) })
	return out
}

// Pending says whether tier must wait for an approval: it is gated and none
// of approvals is for it.
func Pending(tier string, gated []string, approvals []diracv1.ApprovalStatus) bool {
	if !slices.Contains(gated, tier) {
		return false
	}
	return !slices.ContainsFunc(approvals, func(a diracv1.ApprovalStatus) bool { return a.Tier == tier })
}
