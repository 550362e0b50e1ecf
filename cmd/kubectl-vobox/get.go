package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/printers"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
)

// tableAccept asks the API server for kubectl's table: the columns are the
// CRD's additionalPrinterColumns, so `kubectl get vbi` and `kubectl vobox
// get` show the same thing.
const tableAccept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"

// getOptions are the flags of get.
type getOptions struct {
	*options
	output   string
	selector string
	watch    bool
	allNs    bool
}

func newGetCmd(o *options) *cobra.Command {
	g := &getOptions{options: o}
	cmd := &cobra.Command{
		Use:     "get [NAME]",
		Aliases: []string{"list", "ls"},
		Short:   "List the interventions (or one) with kubectl's columns; -w watches, -o json|yaml|wide|name",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usagef("get takes at most one argument, the name of a VOBoxIntervention; got %d", len(args))
			}
			return nil
		},
		ValidArgsFunction: o.completeNames,
		RunE: func(cmd *cobra.Command, args []string) error {
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			if name != "" && g.allNs {
				return usagef("a name cannot be given with --all-namespaces")
			}
			if _, err := labels.Parse(g.selector); err != nil {
				return usagef("--selector: %v", err)
			}
			switch g.output {
			case "", "wide", "json", "yaml", "name":
			default:
				return usagef("--output must be one of json, yaml, wide or name, not %q", g.output)
			}
			cl, err := o.clients()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if !g.watch {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, o.timeout())
				defer cancel()
			}
			if g.output == "" || g.output == "wide" {
				return g.table(ctx, cl, name)
			}
			return g.objects(ctx, cl, name)
		},
	}
	cmd.Flags().StringVarP(&g.output, "output", "o", "", "Output format: json, yaml, wide or name (default: kubectl's table)")
	cmd.Flags().BoolVarP(&g.watch, "watch", "w", false, "After listing, watch for changes")
	cmd.Flags().BoolVarP(&g.allNs, "all-namespaces", "A", false, "List the interventions of every namespace")
	cmd.Flags().StringVarP(&g.selector, "selector", "l", "", "Label selector (e.g. -l key1=value1,key2=value2)")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"json", "yaml", "wide", "name"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// restClient is a REST client for dirac.vobox.io/v1alpha1, for what the
// typed client cannot ask: tables.
func restClient(cfg *rest.Config) (*rest.RESTClient, error) {
	c := rest.CopyConfig(cfg)
	c.APIPath = "/apis"
	gv := diracv1.GroupVersion
	c.GroupVersion = &gv
	c.NegotiatedSerializer = clientgoscheme.Codecs.WithoutConversion()
	rc, err := rest.RESTClientFor(c)
	if err != nil {
		return nil, fmt.Errorf("failed to create a REST client for %s: %w", cfg.Host, err)
	}
	return rc, nil
}

// table prints the server's table, then, with -w, the rows of each change.
func (g *getOptions) table(ctx context.Context, cl *clients, name string) error {
	rc, err := restClient(cl.cfg)
	if err != nil {
		return err
	}
	req := func() *rest.Request {
		r := rc.Get().Resource("voboxinterventions").SetHeader("Accept", tableAccept).Param("includeObject", string(metav1.IncludeMetadata))
		if !g.allNs {
			r = r.Namespace(cl.ns)
		}
		if g.selector != "" {
			r = r.Param("labelSelector", g.selector)
		}
		return r
	}
	r := req()
	if name != "" {
		r = r.Name(name)
	}
	raw, err := r.DoRaw(ctx)
	if err != nil {
		// The API server's Status says why (Forbidden, NotFound): the
		// table's content negotiation leaves it undecoded in err.
		var st metav1.Status
		if json.Unmarshal(raw, &st) == nil && st.Kind == "Status" {
			err = &apierrors.StatusError{ErrStatus: st}
		}
		return listError(err, cl.ns, name)
	}
	table, err := decodeTable(raw)
	if err != nil {
		return err
	}
	printer := printers.NewTablePrinter(printers.PrintOptions{Wide: g.output == "wide", WithNamespace: g.allNs})
	if len(table.Rows) == 0 && !g.watch {
		if g.allNs {
			fmt.Fprintln(g.e.stderr, "No resources found")
		} else {
			fmt.Fprintf(g.e.stderr, "No resources found in %s namespace.\n", escape(cl.ns))
		}
		return nil
	}
	if err := printer.PrintObj(table, g.e.stdout); err != nil {
		return err
	}
	if !g.watch {
		return nil
	}

	w := req().Param("watch", "true").Param("resourceVersion", table.ResourceVersion).Param("allowWatchBookmarks", "false")
	if name != "" {
		w = w.Param("fieldSelector", fields.OneTermEqualSelector("metadata.name", name).String())
	}
	stream, err := w.Stream(ctx)
	if err != nil {
		return fmt.Errorf("failed to watch voboxinterventions: %w", err)
	}
	defer stream.Close()
	dec := json.NewDecoder(stream)
	for {
		var ev metav1.WatchEvent
		if err := dec.Decode(&ev); err != nil {
			if errors.Is(err, io.EOF) || ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("failed to read the watch: %w", err)
		}
		if ev.Type == string(watch.Error) {
			var st metav1.Status
			_ = json.Unmarshal(ev.Object.Raw, &st)
			return fmt.Errorf("the watch ended: %s", st.Message)
		}
		if ev.Type == string(watch.Bookmark) {
			continue
		}
		t, err := decodeTable(ev.Object.Raw)
		if err != nil {
			return err
		}
		if err := printer.PrintObj(t, g.e.stdout); err != nil {
			return err
		}
	}
}

// decodeTable decodes a metav1.Table and makes every cell safe for a
// terminal: cli-runtime's table printer escapes only ESC and CR.
func decodeTable(raw []byte) (*metav1.Table, error) {
	table := &metav1.Table{}
	if err := json.Unmarshal(raw, table); err != nil {
		return nil, fmt.Errorf("failed to decode the API server's table: %w", err)
	}
	if table.Kind != "Table" {
		return nil, fmt.Errorf("the API server answered a %q, not a Table", table.Kind)
	}
	for i := range table.Rows {
		row := &table.Rows[i]
		for j, c := range row.Cells {
			if s, ok := c.(string); ok {
				row.Cells[j] = escape(s)
			}
		}
		if len(row.Object.Raw) > 0 {
			m := &metav1.PartialObjectMetadata{}
			if err := json.Unmarshal(row.Object.Raw, m); err == nil {
				escapeObject(m)
				row.Object.Object = m
			}
		}
	}
	return table, nil
}

// listError says in plain words why a read failed.
func listError(err error, ns, name string) error {
	switch {
	case apierrors.IsNotFound(err) && name != "":
		return fmt.Errorf("voboxintervention %q not found in namespace %q: %w", name, ns, err)
	case apierrors.IsNotFound(err), meta.IsNoMatchError(err):
		return fmt.Errorf("the VOBoxIntervention CRD is not installed in this cluster (make install): %w", err)
	}
	return fmt.Errorf("failed to get voboxinterventions: %w", err)
}

// objects prints the interventions as JSON, YAML or names with
// cli-runtime's printers, then, with -w, each change.
func (g *getOptions) objects(ctx context.Context, cl *clients, name string) error {
	printer, err := objectPrinter(g.output)
	if err != nil {
		return err
	}
	opts := []client.ListOption{}
	if !g.allNs {
		opts = append(opts, client.InNamespace(cl.ns))
	}
	if g.selector != "" {
		sel, _ := labels.Parse(g.selector)
		opts = append(opts, client.MatchingLabelsSelector{Selector: sel})
	}
	var rv string
	if name != "" {
		vbi, err := get(ctx, cl.c, client.ObjectKey{Namespace: cl.ns, Name: name})
		if err != nil {
			return err
		}
		rv = vbi.ResourceVersion
		if err := g.printSafe(printer, vbi, g.e.stdout); err != nil {
			return err
		}
		opts = append(opts, client.MatchingFieldsSelector{Selector: fields.OneTermEqualSelector("metadata.name", name)})
	} else {
		list := &diracv1.VOBoxInterventionList{}
		if err := cl.c.List(ctx, list, opts...); err != nil {
			return listError(err, cl.ns, "")
		}
		rv = list.ResourceVersion
		if g.output == "name" {
			for i := range list.Items {
				if err := g.printSafe(printer, &list.Items[i], g.e.stdout); err != nil {
					return err
				}
			}
		} else if err := g.printSafe(printer, list, g.e.stdout); err != nil {
			return err
		}
	}
	if !g.watch {
		return nil
	}
	w, err := cl.c.Watch(ctx, &diracv1.VOBoxInterventionList{}, append(opts, &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: rv}})...)
	if err != nil {
		return fmt.Errorf("failed to watch voboxinterventions: %w", err)
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.ResultChan():
			if !ok {
				return nil
			}
			if ev.Type == watch.Error {
				return fmt.Errorf("the watch ended: %w", apierrors.FromObject(ev.Object))
			}
			if err := g.printSafe(printer, ev.Object, g.e.stdout); err != nil {
				return err
			}
		}
	}
}

// objectPrinter is cli-runtime's printer for -o json, yaml or name,
// setting apiVersion and kind as kubectl does. Templates (jsonpath,
// go-template) are not offered: they would print cluster strings raw.
func objectPrinter(output string) (printers.ResourcePrinter, error) {
	scheme, err := newScheme()
	if err != nil {
		return nil, err
	}
	var p printers.ResourcePrinter
	if output == "name" {
		p, err = genericclioptions.NewNamePrintFlags("").ToPrinter(output)
	} else {
		p, err = genericclioptions.NewJSONYamlPrintFlags().ToPrinter(output)
	}
	if err != nil {
		return nil, err
	}
	return printers.NewTypeSetter(scheme).ToPrinter(p), nil
}

// printSafe prints through a buffer and escapes what the encoders leave
// raw. JSON escapes C0 controls and ESC itself, but not the C1 controls or
// the bidirectional overrides, which are rewritten as \uXXXX, a valid
// escape in a JSON string: -o json stays exact. YAML cannot carry a control
// character through kubectl's JSON-to-YAML conversion at all (kubectl -o
// yaml fails on one), so for -o yaml the strings that hold one are shown
// escaped as the other commands show them.
func (g *getOptions) printSafe(p printers.ResourcePrinter, obj runtime.Object, w io.Writer) error {
	if g.output == "yaml" {
		obj = obj.DeepCopyObject()
		escapeObject(obj)
	}
	var buf bytes.Buffer
	if err := p.PrintObj(obj, &buf); err != nil {
		return err
	}
	_, err := w.Write(escapeEncoded(buf.Bytes()))
	return err
}

// escapeEncoded rewrites the unsafe runes of encoded output as \uXXXX.
func escapeEncoded(b []byte) []byte {
	var out bytes.Buffer
	for _, r := range string(b) {
		switch {
		case r == '\n' || r == '\t':
			out.WriteRune(r)
		case r < 0x20 || r == 0x7f || unsafeRune(r):
			fmt.Fprintf(&out, `\u%04x`, r)
		default:
			out.WriteRune(r)
		}
	}
	return out.Bytes()
}
