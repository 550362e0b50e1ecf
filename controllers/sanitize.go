package controllers

import (
	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/internal/termsafe"
)

// sanitizeStatus strips control characters and terminal escape sequences
// from every text that came from a host (DIRAC log lines, command output,
// messages built from them) before it reaches the status, the events and
// the terminals of whoever reads them: an ESC]52 clipboard write or an
// ESC]0 title change in a component's ERROR line must not travel to
// on-call's terminal through kubectl. Output keeps its newlines; one-line
// fields keep none. It is idempotent, so running it on every write is safe.
func sanitizeStatus(st *diracv1.VOBoxInterventionStatus) {
	for i := range st.Hosts {
		hs := &st.Hosts[i]
		hs.Message = termsafe.StripLine(hs.Message)
		for j := range hs.Findings {
			hs.Findings[j] = termsafe.StripLine(hs.Findings[j])
		}
		for j := range hs.Drift {
			hs.Drift[j] = termsafe.StripLine(hs.Drift[j])
		}
		if hs.LastStep != nil {
			hs.LastStep.Output = termsafe.Strip(hs.LastStep.Output)
			for j := range hs.LastStep.Command {
				hs.LastStep.Command[j] = termsafe.StripLine(hs.LastStep.Command[j])
			}
		}
	}
	for i := range st.Conditions {
		st.Conditions[i].Message = termsafe.StripLine(st.Conditions[i].Message)
	}
}
