package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
)

// newStateCmd is the command that merge-patches spec.state.
func newStateCmd(o *options, name string, state diracv1.State) *cobra.Command {
	short := "Set spec.state to Down: take the hosts down"
	if state == diracv1.StateUp {
		short = "Set spec.state to Up: bring the hosts back"
	}
	return &cobra.Command{
		Use: name + " NAME", Short: short, Args: oneName, ValidArgsFunction: o.completeNames,
		RunE: o.oneShot(func(ctx context.Context, cl *clients, key types.NamespacedName) error {
			return setState(ctx, o.e, cl.c, key, state)
		}),
	}
}

// newSuspendCmd is the command that merge-patches spec.suspend.
func newSuspendCmd(o *options, name string, suspend bool) *cobra.Command {
	short := "Set spec.suspend: no new step starts"
	if !suspend {
		short = "Clear spec.suspend: carry on from the hosts' real state"
	}
	return &cobra.Command{
		Use: name + " NAME", Short: short, Args: oneName, ValidArgsFunction: o.completeNames,
		RunE: o.oneShot(func(ctx context.Context, cl *clients, key types.NamespacedName) error {
			return setSuspend(ctx, o.e, cl.c, key, suspend)
		}),
	}
}

// setState merge-patches spec.state.
func setState(ctx context.Context, e env, c client.Client, key types.NamespacedName, state diracv1.State) error {
	vbi, err := get(ctx, c, key)
	if err != nil {
		return err
	}
	if vbi.Spec.State == state {
		fmt.Fprintf(e.stdout, "voboxintervention %s: spec.state is already %s; nothing changed\n", key, state)
		return nil
	}
	was := vbi.Spec.State
	if err := mergePatch(ctx, c, vbi, map[string]any{"state": state}); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "voboxintervention %s: spec.state %s -> %s\n", key, was, state)
	if vbi.Spec.Suspend {
		fmt.Fprintf(e.stderr, "warning: spec.suspend is true: nothing runs until 'kubectl vobox resume %s -n %s'\n", key.Name, key.Namespace)
	}
	warnGitOps(e, vbi, "spec.state")
	fmt.Fprintf(e.stdout, "Follow it with: kubectl vobox status %s -n %s\n", key.Name, key.Namespace)
	return nil
}

// setSuspend merge-patches spec.suspend.
func setSuspend(ctx context.Context, e env, c client.Client, key types.NamespacedName, suspend bool) error {
	vbi, err := get(ctx, c, key)
	if err != nil {
		return err
	}
	if vbi.Spec.Suspend == suspend {
		was := "not suspended"
		if suspend {
			was = "suspended"
		}
		fmt.Fprintf(e.stdout, "voboxintervention %s: already %s; nothing changed\n", key, was)
		return nil
	}
	if err := mergePatch(ctx, c, vbi, map[string]any{"suspend": suspend}); err != nil {
		return err
	}
	if suspend {
		fmt.Fprintf(e.stdout, "voboxintervention %s: suspended; steps already running finish, no new step starts\n", key)
	} else {
		fmt.Fprintf(e.stdout, "voboxintervention %s: resumed; the operator carries on from the hosts' real state\n", key)
	}
	warnGitOps(e, vbi, "spec.suspend")
	return nil
}

// mergePatch sends a JSON merge patch of the given spec fields: only those
// fields change, whatever else another writer did since the read.
func mergePatch(ctx context.Context, c client.Client, vbi *diracv1.VOBoxIntervention, spec map[string]any) error {
	body, err := json.Marshal(map[string]any{"spec": spec})
	if err != nil {
		return fmt.Errorf("failed to encode the patch: %w", err)
	}
	if err := c.Patch(ctx, vbi, client.RawPatch(types.MergePatchType, body)); err != nil {
		return fmt.Errorf("failed to patch voboxintervention %s/%s with %s: %w", vbi.Namespace, vbi.Name, body, err)
	}
	return nil
}

// warnGitOps warns when a GitOps tool applies the object: the change made
// here is reverted at its next sync unless it is made in Git too.
func warnGitOps(e env, vbi *diracv1.VOBoxIntervention, field string) {
	if tool := gitOpsOwner(vbi); tool != "" {
		fmt.Fprintf(e.stderr, "warning: %s applies this object from Git: change %s in Git too, or its next sync reverts this\n", tool, field)
	}
}

// gitOpsOwner names the GitOps tool that applies an object, if its labels
// or annotations tell.
func gitOpsOwner(vbi *diracv1.VOBoxIntervention) string {
	for k := range vbi.Labels {
		if strings.HasPrefix(k, "kustomize.toolkit.fluxcd.io/") || strings.HasPrefix(k, "helm.toolkit.fluxcd.io/") {
			return "Flux"
		}
	}
	if _, ok := vbi.Labels["argocd.argoproj.io/instance"]; ok {
		return "Argo CD"
	}
	if _, ok := vbi.Annotations["argocd.argoproj.io/tracking-id"]; ok {
		return "Argo CD"
	}
	return ""
}
