// Package v1alpha1 contains the VOBoxIntervention API of the dirac.vobox.io
// group.
//
// The API is declarative: a VOBoxIntervention says which state (Down or Up) a
// set of DIRAC VOBoxes must reach, and the controller drives every host there
// through the ordered tiers of the power-stop procedure. Validation lives in
// the CRD schema (OpenAPI markers and CEL rules), so an invalid intervention
// is refused at admission and never reaches a host.
//
// Conditions are the contract: Ready, Reconciling and Stalled follow kstatus,
// and one condition per procedure phase (MaintenanceSet … MaintenanceCleared)
// records how far the procedure went. status.phase is only a display summary.
//
// +kubebuilder:object:generate=true
// +groupName=dirac.vobox.io
package v1alpha1
