package main

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// version is the plugin's release, set by `make release` with
// -ldflags "-X main.version=v1.2.3".
var version = ""

// pluginVersion is the release the plugin was built as, else the module
// version or VCS revision Go recorded, else "devel".
func pluginVersion() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "devel"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return "devel-" + rev
}

// managerLabels select the operator's manager Deployment, as config/manager
// labels it (whatever namespace and name prefix an install gives it).
var managerLabels = client.MatchingLabels{"control-plane": "controller-manager", "app.kubernetes.io/name": "vobox-operator"}

func newVersionCmd(o *options) *cobra.Command {
	var clientOnly bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Show the plugin's version and the running operator's (its manager Deployment's image)",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 0 {
				return usagef("version takes no argument")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(o.e.stdout, "Plugin: kubectl-vobox %s\n", escape(pluginVersion()))
			if clientOnly {
				return nil
			}
			cl, err := o.clients()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), o.timeout())
			defer cancel()
			return writeOperatorVersion(ctx, o.e.stdout, cl.c)
		},
	}
	cmd.Flags().BoolVar(&clientOnly, "client", false, "Show the plugin's version only")
	return cmd
}

// writeOperatorVersion shows the operator's version as its manager
// Deployments tell it: the label app.kubernetes.io/version when set, and
// the manager container's image (its tag is the release). A reader who may
// not list Deployments is told so; that is no failure of the command.
func writeOperatorVersion(ctx context.Context, w io.Writer, c client.Client) error {
	var list appsv1.DeploymentList
	if err := c.List(ctx, &list, managerLabels); err != nil {
		if apierrors.IsForbidden(err) {
			fmt.Fprintf(w, "Operator: unknown (you may not list Deployments: %s)\n", escape(err.Error()))
			return nil
		}
		return fmt.Errorf("failed to list the operator's Deployments: %w", err)
	}
	if len(list.Items) == 0 {
		fmt.Fprintln(w, "Operator: not found (no Deployment labelled control-plane=controller-manager, app.kubernetes.io/name=vobox-operator)")
		return nil
	}
	for _, d := range list.Items {
		image := ""
		for _, c := range d.Spec.Template.Spec.Containers {
			if c.Name == "manager" || image == "" {
				image = c.Image
			}
		}
		line := fmt.Sprintf("Operator: %s/%s image %s", d.Namespace, d.Name, image)
		if v := d.Labels["app.kubernetes.io/version"]; v != "" {
			line += ", version " + v
		}
		line += fmt.Sprintf(", %d/%d ready", d.Status.ReadyReplicas, d.Status.Replicas)
		fmt.Fprintln(w, escape(line))
	}
	return nil
}
