package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
)

// defaultTimeout bounds a one-shot command when --request-timeout is not
// given: a plugin that hangs on an unreachable API server helps nobody.
// Watches (-w) are not bounded.
const defaultTimeout = 30 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], newEnv())
	stop()
	os.Exit(code)
}

// env is what a command talks to besides the API server; tests replace it.
type env struct {
	stdout, stderr io.Writer
	// stdin is read by plan -f -.
	stdin io.Reader
	// now reads the clock, for "running for" durations and the timeline.
	now func() time.Time
	// isTerminal reports whether stdout is a terminal, for --color=auto.
	isTerminal func() bool
	// width is the terminal's width in columns, 0 when unknown.
	width func() int
}

func newEnv() env {
	return env{stdout: os.Stdout, stderr: os.Stderr, stdin: os.Stdin, now: time.Now,
		isTerminal: stdoutIsTerminal, width: stdoutWidth}
}

// usageError is a mistake on the command line; it exits 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// options are the flags every command shares and the state built from them.
type options struct {
	config *genericclioptions.ConfigFlags
	color  string
	e      env
	// ran is set once a command's own code runs: an error before that is
	// cobra's (an unknown command or flag) and so a usage mistake.
	ran bool
}

// run runs one command line and returns the exit code: 0 done, 1 failed,
// 2 a mistake on the command line.
func run(ctx context.Context, args []string, e env) int {
	if e.stdin == nil {
		e.stdin = strings.NewReader("")
	}
	if e.width == nil {
		e.width = func() int { return 0 }
	}
	o := &options{e: e}
	root := newRootCmd(o)
	root.SetArgs(args)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.SetIn(e.stdin)
	err := root.ExecuteContext(ctx)
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue), !o.ran:
		fmt.Fprintf(e.stderr, "error: %s\nRun 'kubectl vobox help' for usage.\n", escape(err.Error()))
		return 2
	default:
		fmt.Fprintf(e.stderr, "error: %s\n", escape(err.Error()))
		return 1
	}
}

const rootUsage = `Usage: kubectl vobox COMMAND NAME [flags]
{{if .HasAvailableSubCommands}}
Commands:{{range .Commands}}{{if (or .IsAvailableCommand (eq .Name "help"))}}
  {{rpad .Name .NamePadding }} {{.Short}}{{end}}{{end}}{{end}}
{{if .HasAvailableLocalFlags}}
Flags:
{{.LocalFlags.FlagUsages | trimTrailingWhitespaces}}{{end}}{{if .HasAvailableInheritedFlags}}

Flags of every command (kubectl's):
{{.InheritedFlags.FlagUsages | trimTrailingWhitespaces}}{{end}}

Run 'kubectl vobox COMMAND -h' for a command's flags.
`

const commandUsage = `Usage: {{.UseLine}}
{{if .HasAvailableLocalFlags}}
Flags:
{{.LocalFlags.FlagUsages | trimTrailingWhitespaces}}{{end}}{{if .HasAvailableInheritedFlags}}

Flags of every command (kubectl's):
{{.InheritedFlags.FlagUsages | trimTrailingWhitespaces}}{{end}}
`

func newRootCmd(o *options) *cobra.Command {
	root := &cobra.Command{
		Use:   "kubectl-vobox",
		Short: "Work with VOBoxInterventions (dirac.vobox.io/v1alpha1)",
		Long:  "kubectl vobox: work with VOBoxInterventions (dirac.vobox.io/v1alpha1).",
		Annotations: map[string]string{
			cobra.CommandDisplayNameAnnotation: "kubectl vobox",
		},
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SetOut(o.e.stderr)
			_ = cmd.Usage()
			return usagef("no command given")
		},
		PersistentPreRunE: func(*cobra.Command, []string) error {
			o.ran = true
			switch o.color {
			case "auto", "always", "never":
				return nil
			}
			return usagef("--color must be auto, always or never, not %q", o.color)
		},
	}
	root.SetUsageTemplate(rootUsage)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{msg: err.Error()} })

	o.config = genericclioptions.NewConfigFlags(true)
	o.config.AddFlags(root.PersistentFlags())
	root.PersistentFlags().StringVar(&o.color, "color", "auto", "Colour the output: auto (on a terminal, unless NO_COLOR is set), always or never")
	_ = root.RegisterFlagCompletionFunc("color", cobra.FixedCompletions([]string{"auto", "always", "never"}, cobra.ShellCompDirectiveNoFileComp))
	_ = root.RegisterFlagCompletionFunc("namespace", o.completeNamespaces)

	for _, c := range []*cobra.Command{
		newGetCmd(o),
		newPlanCmd(o),
		newStatusCmd(o),
		newTimelineCmd(o),
		newEventsCmd(o),
		newStateCmd(o, "down", diracv1.StateDown),
		newStateCmd(o, "up", diracv1.StateUp),
		newSuspendCmd(o, "suspend", true),
		newSuspendCmd(o, "resume", false),
		newVersionCmd(o),
	} {
		c.SetUsageTemplate(commandUsage)
		root.AddCommand(c)
	}
	for _, c := range extraCommands {
		cmd := c(o)
		cmd.SetUsageTemplate(commandUsage)
		root.AddCommand(cmd)
	}
	return root
}

// extraCommands are commands that exist only with API features that may be
// absent (see approve.go).
var extraCommands []func(*options) *cobra.Command

// oneName checks that a command got exactly one argument, the name of an
// intervention.
func oneName(cmd *cobra.Command, args []string) error {
	if len(args) != 1 {
		return usagef("%s takes exactly one argument, the name of a VOBoxIntervention; got %d", cmd.Name(), len(args))
	}
	return nil
}

// clients are what a command talks to in the cluster.
type clients struct {
	cfg *rest.Config
	c   client.WithWatch
	// ns is the namespace of -n, else the kubeconfig context's.
	ns string
}

// scheme knows the types the plugin reads and writes.
func newScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{diracv1.AddToScheme, eventsv1.AddToScheme, appsv1.AddToScheme, authenticationv1.AddToScheme} {
		if err := add(s); err != nil {
			return nil, fmt.Errorf("failed to build the scheme: %w", err)
		}
	}
	return s, nil
}

// clients builds an API client from kubectl's flags and resolves the
// namespace, as kubectl does.
func (o *options) clients() (*clients, error) {
	loader := o.config.ToRawKubeConfigLoader()
	ns, _, err := loader.Namespace()
	if err != nil {
		return nil, fmt.Errorf("failed to load the kubeconfig: %w", err)
	}
	cfg, err := o.config.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("failed to load the kubeconfig: %w", err)
	}
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = "kubectl-vobox/" + pluginVersion()
	scheme, err := newScheme()
	if err != nil {
		return nil, err
	}
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("failed to create a client for %s: %w", cfg.Host, err)
	}
	return &clients{cfg: cfg, c: c, ns: ns}, nil
}

// timeout is the deadline of a one-shot command: --request-timeout when
// given, else defaultTimeout.
func (o *options) timeout() time.Duration {
	if o.config.Timeout == nil {
		return defaultTimeout
	}
	// kubectl takes a duration or a bare number of seconds.
	t := *o.config.Timeout
	if _, err := strconv.Atoi(t); err == nil {
		t += "s"
	}
	if d, err := time.ParseDuration(t); err == nil && d > 0 {
		return d
	}
	return defaultTimeout
}

// oneShot wraps a command on one named intervention: it builds the
// clients, bounds the context and passes the key.
func (o *options) oneShot(f func(ctx context.Context, cl *clients, key types.NamespacedName) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		cl, err := o.clients()
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), o.timeout())
		defer cancel()
		return f(ctx, cl, types.NamespacedName{Namespace: cl.ns, Name: args[0]})
	}
}

// get reads an intervention, saying in plain words what went wrong.
func get(ctx context.Context, c client.Client, key types.NamespacedName) (*diracv1.VOBoxIntervention, error) {
	vbi := &diracv1.VOBoxIntervention{}
	err := c.Get(ctx, key, vbi)
	switch {
	case err == nil:
		return vbi, nil
	case apierrors.IsNotFound(err):
		return nil, fmt.Errorf("voboxintervention %q not found in namespace %q: %w", key.Name, key.Namespace, err)
	case meta.IsNoMatchError(err):
		return nil, fmt.Errorf("the VOBoxIntervention CRD is not installed in this cluster (make install): %w", err)
	}
	return nil, fmt.Errorf("failed to get voboxintervention %s: %w", key, err)
}

// completeNames completes the names of the interventions in the namespace.
func (o *options) completeNames(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return o.complete(cmd, false, func(v *diracv1.VOBoxIntervention) string { return v.Name })
}

// completeNamespaces completes -n with the namespaces holding interventions
// (which needs only the plugin's own list permission, not namespaces').
func (o *options) completeNamespaces(cmd *cobra.Command, _ []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return o.complete(cmd, true, func(v *diracv1.VOBoxIntervention) string { return v.Namespace })
}

// complete lists the interventions (of every namespace, or of the one
// selected) and offers what of returns of each, once.
func (o *options) complete(cmd *cobra.Command, allNamespaces bool, of func(*diracv1.VOBoxIntervention) string) ([]cobra.Completion, cobra.ShellCompDirective) {
	cl, err := o.clients()
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), 5*time.Second)
	defer cancel()
	var opts []client.ListOption
	if !allNamespaces {
		opts = append(opts, client.InNamespace(cl.ns))
	}
	var list diracv1.VOBoxInterventionList
	if err := cl.c.List(ctx, &list, opts...); err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	var out []cobra.Completion
	for i := range list.Items {
		if c := escape(of(&list.Items[i])); !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
