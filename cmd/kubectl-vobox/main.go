package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
)

// requestTimeout bounds a whole command: a plugin that hangs on an
// unreachable API server helps nobody.
const requestTimeout = 30 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], newEnv())
	stop()
	os.Exit(code)
}

// env is what a command talks to besides the API server; tests replace it.
type env struct {
	stdout, stderr io.Writer
	// now reads the clock, for "running for" durations.
	now func() time.Time
	// isTerminal reports whether stdout is a terminal, for --color=auto.
	isTerminal func() bool
}

func newEnv() env {
	return env{stdout: os.Stdout, stderr: os.Stderr, now: time.Now, isTerminal: stdoutIsTerminal}
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	// flags binds the subcommand's own flags, if any, described by flagsHelp.
	flags     func(fs *flag.FlagSet, o *options)
	flagsHelp string
	run       func(ctx context.Context, e env, o *options, c client.Client, key types.NamespacedName) error
}

var commands = []command{
	{name: "plan", summary: "Show the tiers and, per host, the exact commands the operator will run (runs nothing)",
		flags: func(fs *flag.FlagSet, o *options) {
			fs.StringVar(&o.state, "state", "", "")
		},
		flagsHelp: "      --state STATE    plan for Down or Up instead of spec.state\n",
		run:       runPlan},
	{name: "status", summary: "Show the progress as a tree: tiers, hosts, last step", run: runStatus},
	{name: "down", summary: "Set spec.state to Down: take the hosts down", run: setState(diracv1.StateDown)},
	{name: "up", summary: "Set spec.state to Up: bring the hosts back", run: setState(diracv1.StateUp)},
	{name: "suspend", summary: "Set spec.suspend: no new step starts", run: setSuspend(true)},
	{name: "resume", summary: "Clear spec.suspend: carry on from the hosts' real state", run: setSuspend(false)},
}

// options are the flags of a command line.
type options struct {
	kubeconfig string
	context    string
	namespace  string
	color      string
	state      string
}

// usageError is a mistake on the command line; it exits 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// run runs one command line and returns the exit code.
func run(ctx context.Context, args []string, e env) int {
	err := dispatch(ctx, args, e)
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(e.stderr, "error: %v\nRun 'kubectl vobox help' for usage.\n", err)
		return 2
	default:
		fmt.Fprintf(e.stderr, "error: %v\n", err)
		return 1
	}
}

func dispatch(ctx context.Context, args []string, e env) error {
	// The flags every command takes may come before the command, as with
	// kubectl: `kubectl vobox -n ns status NAME`.
	lead := flag.NewFlagSet("kubectl vobox", flag.ContinueOnError)
	lead.SetOutput(io.Discard)
	bindCommon(lead, &options{})
	if err := lead.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(e.stdout)
			return err
		}
		return &usageError{msg: err.Error()}
	}
	if lead.NArg() == 0 {
		usage(e.stderr)
		return &usageError{msg: "no command given"}
	}
	leading := args[:len(args)-lead.NArg()]
	name, rest := lead.Arg(0), lead.Args()[1:]
	if name == "help" {
		usage(e.stdout)
		return nil
	}
	var cmd *command
	for i := range commands {
		if commands[i].name == name {
			cmd = &commands[i]
		}
	}
	if cmd == nil {
		return &usageError{msg: fmt.Sprintf("unknown command %q", name)}
	}

	o := &options{}
	fs := flag.NewFlagSet("kubectl vobox "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage: kubectl vobox %s NAME [flags]\n\n%s.\n\nFlags:\n%s", cmd.name, cmd.summary, commonFlagsHelp)
		if cmd.flags != nil {
			fmt.Fprint(e.stderr, cmd.flagsHelp)
		}
	}
	bindCommon(fs, o)
	if cmd.flags != nil {
		cmd.flags(fs, o)
	}
	pos, err := parseInterspersed(fs, append(slices.Clip(leading), rest...))
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &usageError{msg: err.Error()}
	}
	if len(pos) != 1 {
		return &usageError{msg: fmt.Sprintf("%s takes exactly one argument, the name of a VOBoxIntervention; got %d", cmd.name, len(pos))}
	}
	switch o.color {
	case "auto", "always", "never":
	default:
		return &usageError{msg: fmt.Sprintf("--color must be auto, always or never, not %q", o.color)}
	}

	c, ns, err := o.client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	return cmd.run(ctx, e, o, c, types.NamespacedName{Namespace: ns, Name: pos[0]})
}

const commonFlagsHelp = `  -n, --namespace NS   namespace of the intervention (default: the kubeconfig context's)
      --kubeconfig F   kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)
      --context CTX    kubeconfig context (default: the current context)
      --color WHEN     auto, always or never (default auto: on a terminal, unless NO_COLOR is set)
`

// bindCommon binds the flags of every command; commonFlagsHelp describes them.
func bindCommon(fs *flag.FlagSet, o *options) {
	fs.StringVar(&o.namespace, "namespace", "", "")
	fs.StringVar(&o.namespace, "n", "", "")
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "")
	fs.StringVar(&o.context, "context", "", "")
	fs.StringVar(&o.color, "color", "auto", "")
}

// parseInterspersed parses flags anywhere on the line, as kubectl does:
// `status NAME -n ns` and `-n ns status NAME` mean the same.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func usage(w io.Writer) {
	fmt.Fprintf(w, `kubectl vobox: work with VOBoxInterventions (dirac.vobox.io/v1alpha1).

Usage: kubectl vobox COMMAND NAME [flags]

Commands:
`)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Flags (every command):
`+commonFlagsHelp)
	for _, c := range commands {
		if c.flagsHelp != "" {
			fmt.Fprintf(w, "%s only:\n%s", c.name, c.flagsHelp)
		}
	}
	fmt.Fprint(w, "\nRun 'kubectl vobox COMMAND -h' for a command's flags.\n")
}

// client builds an API client and resolves the namespace from the flags and
// the kubeconfig, as kubectl does.
func (o *options) client() (client.Client, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if o.kubeconfig != "" {
		rules.ExplicitPath = o.kubeconfig
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: o.context})
	ns := o.namespace
	if ns == "" {
		var err error
		if ns, _, err = cc.Namespace(); err != nil {
			return nil, "", fmt.Errorf("failed to load the kubeconfig: %w", err)
		}
	}
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("failed to load the kubeconfig: %w", err)
	}
	cfg.UserAgent = "kubectl-vobox"
	scheme := runtime.NewScheme()
	if err := diracv1.AddToScheme(scheme); err != nil {
		return nil, "", fmt.Errorf("failed to build the scheme: %w", err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, "", fmt.Errorf("failed to create a client for %s: %w", cfg.Host, err)
	}
	return c, ns, nil
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
