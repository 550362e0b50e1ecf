// Package namespaced_test renders config/namespaced and checks that it does
// what its kustomization says: the manager watches exactly the namespaces
// it is bound in, and nothing grants it cluster-wide access to Secrets.
package namespaced_test

import (
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

type rendered struct {
	deployment          *appsv1.Deployment
	clusterRoles        map[string]rbacv1.ClusterRole
	roles               []rbacv1.Role
	clusterRoleBindings []rbacv1.ClusterRoleBinding
	roleBindings        []rbacv1.RoleBinding
	serviceAccount      rbacv1.Subject
}

func render(t *testing.T, dir string) rendered {
	t.Helper()
	res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	r := rendered{clusterRoles: map[string]rbacv1.ClusterRole{}}
	for _, res := range res.Resources() {
		data, err := res.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		into := func(o any) {
			if err := yaml.Unmarshal(data, o); err != nil {
				t.Fatalf("%s: %v", res.CurId(), err)
			}
		}
		switch res.GetKind() {
		case "Deployment":
			r.deployment = &appsv1.Deployment{}
			into(r.deployment)
		case "ServiceAccount":
			r.serviceAccount = rbacv1.Subject{Kind: "ServiceAccount", Name: res.GetName(), Namespace: res.GetNamespace()}
		case "ClusterRole":
			var o rbacv1.ClusterRole
			into(&o)
			r.clusterRoles[o.Name] = o
		case "Role":
			var o rbacv1.Role
			into(&o)
			r.roles = append(r.roles, o)
		case "ClusterRoleBinding":
			var o rbacv1.ClusterRoleBinding
			into(&o)
			r.clusterRoleBindings = append(r.clusterRoleBindings, o)
		case "RoleBinding":
			var o rbacv1.RoleBinding
			into(&o)
			r.roleBindings = append(r.roleBindings, o)
		}
	}
	if r.deployment == nil || r.serviceAccount.Name == "" {
		t.Fatalf("%s renders no Deployment or ServiceAccount", dir)
	}
	return r
}

func (r rendered) arg(name string) (string, bool) {
	for _, a := range r.deployment.Spec.Template.Spec.Containers[0].Args {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v, true
		}
	}
	return "", false
}

func bindsSA(subjects []rbacv1.Subject, sa rbacv1.Subject) bool {
	return slices.ContainsFunc(subjects, func(s rbacv1.Subject) bool {
		return s.Kind == sa.Kind && s.Name == sa.Name && s.Namespace == sa.Namespace
	})
}

func grants(rules []rbacv1.PolicyRule, group, resource, verb string) bool {
	return slices.ContainsFunc(rules, func(p rbacv1.PolicyRule) bool {
		return (slices.Contains(p.APIGroups, group) || slices.Contains(p.APIGroups, "*")) &&
			(slices.Contains(p.Resources, resource) || slices.Contains(p.Resources, "*")) &&
			(slices.Contains(p.Verbs, verb) || slices.Contains(p.Verbs, "*"))
	})
}

func TestNamespacedVariant(t *testing.T) {
	r := render(t, ".")
	sa := r.serviceAccount

	// No cluster-wide binding of the manager to anything that reads data.
	for _, b := range r.clusterRoleBindings {
		if !bindsSA(b.Subjects, sa) {
			continue
		}
		role, ok := r.clusterRoles[b.RoleRef.Name]
		if !ok {
			t.Errorf("ClusterRoleBinding %s names a ClusterRole %s that is not rendered", b.Name, b.RoleRef.Name)
			continue
		}
		for _, res := range []struct{ group, resource string }{
			{"", "secrets"}, {"dirac.vobox.io", "voboxinterventions"}, {"coordination.k8s.io", "leases"},
		} {
			if grants(role.Rules, res.group, res.resource, "get") {
				t.Errorf("ClusterRoleBinding %s grants get on %s cluster-wide", b.Name, res.resource)
			}
		}
	}

	// --watch-namespaces is exactly the set of namespaces the manager's
	// rules are bound in, each binding to a ClusterRole that is rendered.
	watchArg, ok := r.arg("--watch-namespaces")
	if !ok {
		t.Fatal("the Deployment has no --watch-namespaces")
	}
	watch := strings.Split(watchArg, ",")
	slices.Sort(watch)
	var bound []string
	for _, b := range r.roleBindings {
		if !bindsSA(b.Subjects, sa) || b.Namespace == sa.Namespace {
			continue
		}
		role, ok := r.clusterRoles[b.RoleRef.Name]
		if b.RoleRef.Kind != "ClusterRole" || !ok {
			t.Errorf("RoleBinding %s/%s refers to %s %s, not a rendered ClusterRole", b.Namespace, b.Name, b.RoleRef.Kind, b.RoleRef.Name)
			continue
		}
		if !grants(role.Rules, "", "secrets", "get") || !grants(role.Rules, "dirac.vobox.io", "voboxinterventions", "watch") {
			t.Errorf("RoleBinding %s/%s binds %s, which lacks the manager's rules", b.Namespace, b.Name, role.Name)
		}
		bound = append(bound, b.Namespace)
	}
	slices.Sort(bound)
	if !slices.Equal(watch, bound) {
		t.Errorf("--watch-namespaces %q, but the manager is bound in %q", watch, bound)
	}

	// The manager's own namespace: the default lock namespace, readable
	// (the start-up check), with POD_NAMESPACE telling the manager its name.
	var own *rbacv1.Role
	for i, role := range r.roles {
		if role.Namespace == r.deployment.Namespace {
			for _, b := range r.roleBindings {
				if b.Namespace == role.Namespace && b.RoleRef.Name == role.Name && bindsSA(b.Subjects, sa) {
					own = &r.roles[i]
				}
			}
		}
	}
	if own == nil || !grants(own.Rules, "", "namespaces", "get") || !grants(own.Rules, "coordination.k8s.io", "leases", "create") {
		t.Errorf("no Role bound in the manager's namespace %s grants get on it and Leases", r.deployment.Namespace)
	}
	env := r.deployment.Spec.Template.Spec.Containers[0].Env
	if !slices.ContainsFunc(env, func(e corev1.EnvVar) bool {
		return e.Name == "POD_NAMESPACE" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace"
	}) {
		t.Error("the Deployment does not set POD_NAMESPACE from metadata.namespace")
	}
}

// TestDefaultIsClusterWide: config/default, by contrast, binds the manager's
// rules cluster-wide and watches every namespace.
func TestDefaultIsClusterWide(t *testing.T) {
	r := render(t, "../default")
	if _, ok := r.arg("--watch-namespaces"); ok {
		t.Error("config/default sets --watch-namespaces")
	}
	if !slices.ContainsFunc(r.clusterRoleBindings, func(b rbacv1.ClusterRoleBinding) bool {
		return bindsSA(b.Subjects, r.serviceAccount) && grants(r.clusterRoles[b.RoleRef.Name].Rules, "", "secrets", "get")
	}) {
		t.Error("config/default does not bind the manager's rules cluster-wide")
	}
}
