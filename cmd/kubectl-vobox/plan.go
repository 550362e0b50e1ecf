package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/controllers"
)

// runPlan prints the plan of an intervention, computed here from its spec as
// the API server stores it (defaults applied): nothing runs anywhere.
func runPlan(ctx context.Context, e env, o *options, c client.Client, key types.NamespacedName) error {
	vbi, err := get(ctx, c, key)
	if err != nil {
		return err
	}
	spec := vbi.Spec.DeepCopy()
	switch diracv1.State(o.state) {
	case "":
	case diracv1.StateDown, diracv1.StateUp:
		spec.State = diracv1.State(o.state)
	default:
		return &usageError{msg: fmt.Sprintf("--state must be Down or Up, not %q", o.state)}
	}
	writePlan(e.stdout, newPainter(o, e), vbi, spec)
	return nil
}

// stepWidth fits the longest step name, DropDuplicateLinks.
const stepWidth = 19

func writePlan(w io.Writer, p painter, vbi *diracv1.VOBoxIntervention, spec *diracv1.VOBoxInterventionSpec) {
	tiers := controllers.DescribePlan(spec, string(vbi.UID))
	total := controllers.BuildPlan(spec).Total()
	fmt.Fprintf(w, "%s for voboxintervention %s/%s: %s, %d tiers, %d host steps (nothing runs)\n",
		p.bold("Plan"), vbi.Namespace, vbi.Name, p.bold(string(spec.State)), len(tiers), total)
	if spec.State != vbi.Spec.State {
		fmt.Fprintf(w, "spec.state is %s: this is what 'kubectl vobox %s %s' would start.\n",
			vbi.Spec.State, strings.ToLower(string(spec.State)), vbi.Name)
	}
	parallel := "all hosts of a tier at once"
	if n := spec.Strategy.MaxParallel; n > 0 {
		parallel = fmt.Sprintf("at most %d hosts of a tier at once", n)
	}
	fmt.Fprintf(w, "Tiers run in order, %s; failure policy %s; every command times out after %s.\n",
		parallel, spec.Strategy.FailurePolicy, spec.Strategy.StepTimeout.Duration)
	fmt.Fprintf(w, "Each command runs over SSH only when the probe before it says it is needed, so a step\n"+
		"already done is not run again. Fixed scripts are shown by name (vobox-*); %s stands\n"+
		"for the startup links the probe finds, %s for the manifest it records.\n",
		controllers.PlaceholderLinks, controllers.PlaceholderManifest)
	if spec.Suspend {
		fmt.Fprintln(w, p.yellow("spec.suspend is true: nothing runs until 'kubectl vobox resume "+vbi.Name+"'."))
	}

	for i, td := range tiers {
		fmt.Fprintf(w, "\n%d. %s  %s  %s\n", i+1, p.bold(td.Condition), p.dim(string(td.Action)), countHosts(len(td.Hosts)))
		if td.Note != "" {
			fmt.Fprintf(w, "   %s\n", p.yellow(td.Note))
		}
		if len(td.Hosts) == 0 {
			fmt.Fprintf(w, "   %s\n", p.dim("no host has this role: skipped"))
		}
		if td.Skipped {
			continue
		}
		for _, hd := range td.Hosts {
			fmt.Fprintf(w, "   %s  %s\n", p.bold(hd.Name), p.dim(sshTarget(spec, hd.Name)))
			if hd.Links != "" {
				fmt.Fprintf(w, "     %s\n", p.dim("links: "+hd.Links))
			}
			for _, st := range hd.Steps {
				line := st.CommandLine()
				if st.On != hd.Name {
					line += "   " + p.yellow("(runs on "+st.On+")")
				}
				fmt.Fprintf(w, "     %-*s %s\n", stepWidth, st.Name, line)
				if st.When != "" {
					fmt.Fprintf(w, "     %-*s %s\n", stepWidth, "", p.dim("# "+st.When))
				}
			}
		}
	}
}

func countHosts(n int) string {
	if n == 1 {
		return "1 host"
	}
	return fmt.Sprintf("%d hosts", n)
}

// sshTarget shows where the operator logs in to a host.
func sshTarget(spec *diracv1.VOBoxInterventionSpec, name string) string {
	for _, h := range spec.Hosts {
		if h.Name != name {
			continue
		}
		addr, port := h.Name, spec.SSH.Port
		if h.Address != "" {
			addr = h.Address
		}
		if h.Port != nil {
			port = *h.Port
		}
		return fmt.Sprintf("ssh %s@%s:%d", spec.SSH.User, addr, port)
	}
	return ""
}
