package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
)

func newEventsCmd(o *options) *cobra.Command {
	return newShowCmd(o, "events NAME", "Show the Events about an intervention, oldest first",
		func(ctx context.Context, cl *clients, key types.NamespacedName, vbi *diracv1.VOBoxIntervention) error {
			evs, err := listEvents(ctx, cl.c, vbi)
			if err != nil {
				return err
			}
			writeEvents(o.e.stdout, key, evs, o.e.now())
			return nil
		})
}

// listEvents lists the events.k8s.io Events regarding an intervention (the
// operator records with that API), matched by its UID so that an earlier
// object of the same name is left out.
func listEvents(ctx context.Context, c client.Client, vbi *diracv1.VOBoxIntervention) ([]eventsv1.Event, error) {
	var list eventsv1.EventList
	sel := fields.SelectorFromSet(fields.Set{"regarding.name": vbi.Name, "regarding.uid": string(vbi.UID)})
	if err := c.List(ctx, &list, client.InNamespace(vbi.Namespace), client.MatchingFieldsSelector{Selector: sel}); err != nil {
		return nil, fmt.Errorf("failed to list the events of voboxintervention %s/%s: %w", vbi.Namespace, vbi.Name, err)
	}
	evs := list.Items
	slices.SortStableFunc(evs, func(a, b eventsv1.Event) int { return eventTime(a).Compare(eventTime(b)) })
	return evs, nil
}

// eventTime is when an event last happened: its series' last time, else
// its eventTime, else the deprecated fields an older writer may have set.
func eventTime(e eventsv1.Event) time.Time {
	switch {
	case e.Series != nil && !e.Series.LastObservedTime.IsZero():
		return e.Series.LastObservedTime.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	case !e.DeprecatedLastTimestamp.IsZero():
		return e.DeprecatedLastTimestamp.Time
	}
	return e.CreationTimestamp.Time
}

func writeEvents(w io.Writer, key types.NamespacedName, evs []eventsv1.Event, now time.Time) {
	if len(evs) == 0 {
		fmt.Fprintf(w, "No events for voboxintervention %s (Events expire, by default after an hour).\n", key)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "LAST SEEN\tTYPE\tREASON\tACTION\tCOUNT\tMESSAGE")
	for _, e := range evs {
		e := e
		escapeObject(&e)
		count := 1
		if e.Series != nil {
			count = int(e.Series.Count)
		} else if e.DeprecatedCount > 0 {
			count = int(e.DeprecatedCount)
		}
		// No colour here: tabwriter would count the escapes as width.
		fmt.Fprintf(tw, "%s ago\t%s\t%s\t%s\t%d\t%s\n", human(now.Sub(eventTime(e))), e.Type, e.Reason, e.Action, count, e.Note)
	}
	_ = tw.Flush()
}
