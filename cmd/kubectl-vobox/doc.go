// Command kubectl-vobox is a kubectl plugin for VOBoxInterventions: on the
// PATH as kubectl-vobox, it runs as `kubectl vobox COMMAND NAME`.
//
//   - plan shows the tiers of the plan and, per host, the exact commands the
//     operator will run, computed locally from the spec (controllers.DescribePlan);
//     it runs nothing, on the hosts or in the cluster.
//   - status shows the status as a tree: tiers, hosts, each host's last step.
//   - down, up, suspend and resume merge-patch spec.state or spec.suspend, and
//     nothing else.
//
// It reads the kubeconfig as kubectl does (--kubeconfig, $KUBECONFIG,
// ~/.kube/config; --context; -n/--namespace, else the context's namespace),
// colours only on a terminal, and exits 1 on a failure, 2 on a usage mistake.
package main
