package controllers

import (
	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/internal/procedure"
)

// The plan and its description live in internal/procedure. These wrappers
// keep the names kubectl-vobox imported from here until it imports
// internal/procedure itself.

const (
	// PlaceholderLinks is procedure.PlaceholderLinks.
	//
	// Deprecated: use procedure.PlaceholderLinks.
	PlaceholderLinks = procedure.PlaceholderLinks
	// PlaceholderManifest is procedure.PlaceholderManifest.
	//
	// Deprecated: use procedure.PlaceholderManifest.
	PlaceholderManifest = procedure.PlaceholderManifest
)

// BuildPlan is procedure.BuildPlan.
//
// Deprecated: use procedure.BuildPlan.
func BuildPlan(spec *diracv1.VOBoxInterventionSpec) procedure.Plan { return procedure.BuildPlan(spec) }

// DescribePlan is procedure.DescribePlan.
//
// Deprecated: use procedure.DescribePlan.
func DescribePlan(spec *diracv1.VOBoxInterventionSpec, uid string) []procedure.TierDescription {
	return procedure.DescribePlan(spec, uid)
}
