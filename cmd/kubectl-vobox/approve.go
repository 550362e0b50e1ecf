package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
)

func init() { extraCommands = append(extraCommands, newApproveCmd) }

func newApproveCmd(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "approve NAME TIER",
		Short: "Approve a gated tier (spec.strategy.approvals) for the current generation",
		Long: "Approve a tier that spec.strategy.approvals gates, for the intervention's current generation:\n" +
			"the annotation " + diracv1.ApprovalAnnotationPrefix + "TIER records who (as the API server knows you,\n" +
			"from a SelfSubjectReview, so --as is honoured) and when. A change of the spec needs a new approval.",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 {
				return usagef("approve takes two arguments, the name of a VOBoxIntervention and a tier; got %d", len(args))
			}
			return nil
		},
		ValidArgsFunction: func(cmd *cobra.Command, args []string, s string) ([]cobra.Completion, cobra.ShellCompDirective) {
			if len(args) == 0 {
				return o.completeNames(cmd, args, s)
			}
			if len(args) > 1 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			cl, err := o.clients()
			if err != nil {
				return nil, cobra.ShellCompDirectiveError
			}
			vbi, err := get(cmd.Context(), cl.c, types.NamespacedName{Namespace: cl.ns, Name: args[0]})
			if err != nil {
				return nil, cobra.ShellCompDirectiveError
			}
			return vbi.Spec.Strategy.Approvals, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := o.clients()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), o.timeout())
			defer cancel()
			return approve(ctx, o.e, cl.c, types.NamespacedName{Namespace: cl.ns, Name: args[0]}, args[1])
		},
	}
}

// approve records the caller's approval of tier in the intervention's
// annotation, for its current generation.
func approve(ctx context.Context, e env, c client.Client, key types.NamespacedName, tier string) error {
	vbi, err := get(ctx, c, key)
	if err != nil {
		return err
	}
	gated := vbi.Spec.Strategy.Approvals
	if !slices.Contains(gated, tier) {
		if len(gated) == 0 {
			return fmt.Errorf("voboxintervention %s gates no tier (spec.strategy.approvals is empty): nothing to approve", key)
		}
		return fmt.Errorf("tier %q of voboxintervention %s is not gated: spec.strategy.approvals lists %s", escape(tier), key, strings.Join(gated, ", "))
	}
	annotation := diracv1.ApprovalAnnotation(tier)
	if raw, ok := vbi.Annotations[annotation]; ok {
		var rec diracv1.ApprovalRecord
		if json.Unmarshal([]byte(raw), &rec) == nil && rec.Generation == vbi.Generation {
			fmt.Fprintf(e.stdout, "voboxintervention %s: %s is already approved by %s for generation %d; nothing changed\n",
				key, tier, escape(rec.User), rec.Generation)
			return nil
		}
	}

	// Who the API server says we are: with --as, the impersonated user.
	review := &authenticationv1.SelfSubjectReview{}
	if err := c.Create(ctx, review); err != nil {
		return fmt.Errorf("failed to learn who you are (SelfSubjectReview): %w", err)
	}
	user := review.Status.UserInfo.Username
	if user == "" {
		return fmt.Errorf("the API server did not say who you are (SelfSubjectReview has no username): an approval needs a name")
	}
	rec := diracv1.ApprovalRecord{User: user, Time: metav1.NewTime(e.now().UTC().Truncate(1e9)), Generation: vbi.Generation}
	value, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("failed to encode the approval: %w", err)
	}
	// The patch carries the resourceVersion read: an approval is for the
	// spec the approver saw, so a spec changed since then makes it fail.
	body, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"resourceVersion": vbi.ResourceVersion,
		"annotations":     map[string]string{annotation: string(value)},
	}})
	if err != nil {
		return fmt.Errorf("failed to encode the patch: %w", err)
	}
	if err := c.Patch(ctx, vbi, client.RawPatch(types.MergePatchType, body)); err != nil {
		return fmt.Errorf("failed to record the approval of %s on voboxintervention %s: %w", tier, key, err)
	}
	fmt.Fprintf(e.stdout, "voboxintervention %s: %s approved by %s for generation %d\n", key, tier, escape(user), rec.Generation)
	return nil
}
