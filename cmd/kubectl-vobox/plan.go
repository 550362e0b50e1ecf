package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/internal/procedure"
)

func newPlanCmd(o *options) *cobra.Command {
	var state, file string
	cmd := &cobra.Command{
		Use:   "plan (NAME | -f FILE)",
		Short: "Show the tiers and, per host, the exact commands the operator will run (runs nothing)",
		Long: "Show the tiers and, per host, the exact commands the operator will run (runs nothing).\n\n" +
			"With NAME, the plan of an intervention in the cluster. With -f FILE (- for stdin), the plan of\n" +
			"the interventions in a manifest before they exist: the API server creates each in a dry run, so\n" +
			"its defaults and validation apply, and nothing is created.",
		ValidArgsFunction: o.completeNames,
		Args: func(cmd *cobra.Command, args []string) error {
			if file != "" {
				if len(args) != 0 {
					return usagef("plan takes a NAME or -f FILE, not both")
				}
				return nil
			}
			return oneName(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			switch diracv1.State(state) {
			case "", diracv1.StateDown, diracv1.StateUp:
			default:
				return usagef("--state must be Down or Up, not %q", state)
			}
			cl, err := o.clients()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), o.timeout())
			defer cancel()
			if file != "" {
				return planFile(ctx, o, cl, file, diracv1.State(state))
			}
			vbi, err := get(ctx, cl.c, types.NamespacedName{Namespace: cl.ns, Name: args[0]})
			if err != nil {
				return err
			}
			escapeObject(vbi)
			writePlan(o.e.stdout, newPainter(o), vbi, withState(&vbi.Spec, diracv1.State(state)), string(vbi.UID))
			return nil
		},
	}
	cmd.Flags().StringVar(&state, "state", "", "Plan for Down or Up instead of spec.state")
	cmd.Flags().StringVarP(&file, "filename", "f", "", "A manifest of VOBoxInterventions (YAML or JSON, - for stdin) to plan without creating them")
	_ = cmd.RegisterFlagCompletionFunc("state", cobra.FixedCompletions([]string{string(diracv1.StateDown), string(diracv1.StateUp)}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.MarkFlagFilename("filename", "yaml", "yml", "json")
	return cmd
}

// withState is a copy of spec for state, or spec itself when state is empty.
func withState(spec *diracv1.VOBoxInterventionSpec, state diracv1.State) *diracv1.VOBoxInterventionSpec {
	if state == "" {
		return spec
	}
	s := spec.DeepCopy()
	s.State = state
	return s
}

// planFile plans the interventions of a manifest: each is created in a
// server-side dry run (so the API server's defaults and validation apply,
// exactly as for kubectl apply) and the plan is computed from what the
// server answered. Nothing is stored.
func planFile(ctx context.Context, o *options, cl *clients, file string, state diracv1.State) error {
	var data []byte
	var err error
	if file == "-" {
		data, err = io.ReadAll(o.e.stdin)
	} else {
		data, err = os.ReadFile(file)
	}
	if err != nil {
		return fmt.Errorf("failed to read %s: %w", file, err)
	}
	objs, err := decodeInterventions(data)
	if err != nil {
		return fmt.Errorf("failed to read %s: %w", file, err)
	}
	if len(objs) == 0 {
		return fmt.Errorf("%s holds no VOBoxIntervention", file)
	}
	for i, vbi := range objs {
		if vbi.Namespace == "" {
			vbi.Namespace = cl.ns
		}
		if vbi.Namespace != cl.ns && o.config.Namespace != nil && *o.config.Namespace != "" {
			return usagef("the namespace from the provided object %q does not match the namespace %q", vbi.Namespace, cl.ns)
		}
		dry, note, err := dryRunCreate(ctx, cl.c, vbi)
		if err != nil {
			return err
		}
		if i > 0 {
			fmt.Fprintln(o.e.stdout)
		}
		if note != "" {
			fmt.Fprintln(o.e.stdout, note)
		}
		escapeObject(dry)
		// The dry run's UID is thrown away with the object: show a placeholder.
		writePlan(o.e.stdout, newPainter(o), dry, withState(&dry.Spec, state), procedure.PlaceholderUID)
	}
	return nil
}

// dryRunCreate creates vbi in a server-side dry run and returns what the
// server would have stored. When an object of that name exists, the dry run
// is made under a generated name, so the file's spec is still the one planned.
func dryRunCreate(ctx context.Context, c client.Client, vbi *diracv1.VOBoxIntervention) (*diracv1.VOBoxIntervention, string, error) {
	obj := vbi.DeepCopy()
	err := c.Create(ctx, obj, client.DryRunAll)
	note := ""
	if apierrors.IsAlreadyExists(err) {
		note = fmt.Sprintf("voboxintervention %s/%s exists: this is the plan of the file's spec, not of the stored object ('kubectl vobox plan %s' shows that).",
			vbi.Namespace, vbi.Name, vbi.Name)
		obj = vbi.DeepCopy()
		obj.GenerateName, obj.Name = vbi.Name+"-", ""
		err = c.Create(ctx, obj, client.DryRunAll)
		obj.Name = vbi.Name
	}
	switch {
	case err == nil:
		return obj, note, nil
	case meta.IsNoMatchError(err):
		return nil, "", fmt.Errorf("the VOBoxIntervention CRD is not installed in this cluster (make install): %w", err)
	}
	return nil, "", fmt.Errorf("the API server refused voboxintervention %s/%s (dry run, nothing created): %w", vbi.Namespace, vbi.Name, err)
}

// decodeInterventions reads the VOBoxInterventions of a YAML or JSON
// stream; other kinds (a Secret beside it) are skipped.
func decodeInterventions(data []byte) ([]*diracv1.VOBoxIntervention, error) {
	var out []*diracv1.VOBoxIntervention
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var raw map[string]any
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, err
		}
		if raw == nil {
			continue
		}
		if raw["kind"] != "VOBoxIntervention" {
			continue
		}
		if av, _ := raw["apiVersion"].(string); av != diracv1.GroupVersion.String() {
			return nil, fmt.Errorf("apiVersion %q is not %s", av, diracv1.GroupVersion)
		}
		b, err := json.Marshal(raw)
		if err != nil {
			return nil, err
		}
		vbi := &diracv1.VOBoxIntervention{}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(vbi); err != nil {
			return nil, fmt.Errorf("voboxintervention: %w", err)
		}
		out = append(out, vbi)
	}
}

// stepWidth fits the longest step name, DropDuplicateLinks.
const stepWidth = 19

func writePlan(w io.Writer, p painter, vbi *diracv1.VOBoxIntervention, spec *diracv1.VOBoxInterventionSpec, uid string) {
	tiers := procedure.DescribePlan(spec, uid)
	total := procedure.BuildPlan(spec).Total()
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
		procedure.PlaceholderLinks, procedure.PlaceholderManifest)
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
