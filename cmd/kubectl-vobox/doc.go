// Command kubectl-vobox is a kubectl plugin for VOBoxInterventions: on the
// PATH as kubectl-vobox (or installed by krew from plugins/vobox.yaml), it
// runs as `kubectl vobox COMMAND`.
//
//   - get (list) shows the interventions with the CRD's columns, asked of
//     the API server as a Table as kubectl get does; -o wide, json, yaml or
//     name with cli-runtime's printers; -w watches; -A, -l.
//   - plan NAME shows the tiers and, per host, the exact commands the
//     operator will run, computed locally from the stored spec
//     (procedure.DescribePlan); plan -f FILE does it for a manifest before it
//     exists, from what a server-side dry-run create returns, so the
//     schema's defaults and validation apply and nothing is stored.
//   - status shows the status as a tree: tiers, hosts, each host's last step.
//   - timeline draws the tiers and hosts on a time axis from the status
//     timestamps, as wide as the terminal.
//   - events lists the events.k8s.io Events about an intervention.
//   - down, up, suspend and resume merge-patch spec.state or spec.suspend,
//     and nothing else; approve records an approval of a gated tier in an
//     annotation, with the user a SelfSubjectReview names.
//   - version shows the plugin's version and the operator's, from the image
//     and app.kubernetes.io/version label of its manager Deployment.
//   - completion writes cobra's shell completion (bash, zsh, fish,
//     powershell); names, namespaces, tiers and flag values complete.
//
// It takes kubectl's flags through cli-runtime's ConfigFlags (--kubeconfig,
// --context, -n, --as, --as-group, --request-timeout, --server, ...),
// colours only on a terminal (--color, NO_COLOR), and passes every string
// from the cluster through internal/termsafe before it reaches the
// terminal. It exits 1 on a failure, 2 on a usage mistake. It imports no
// controller code: the plan comes from internal/procedure.
package main
