// Package samples_test checks the security-relevant samples: the sample
// Secret opts in as the operator requires, and the NetworkPolicy lets the
// manager out only to DNS, the API server and SSH.
package samples_test

import (
	"os"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/yaml"

	"github.com/vobox-operator/vobox-operator/internal/remote"
)

func load(t *testing.T, path string, into any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(data, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func TestSecretSampleOptsIn(t *testing.T) {
	var s corev1.Secret
	load(t, "secret.yaml", &s)
	if err := remote.CheckSecretAllowed(&s); err != nil {
		t.Errorf("the sample Secret is refused: %v", err)
	}
	if _, ok := s.StringData[remote.SecretKeyPrivateKey]; !ok {
		t.Errorf("the sample Secret has no %s (kubernetes.io/ssh-auth requires it)", remote.SecretKeyPrivateKey)
	}
}

func TestNetworkPolicySample(t *testing.T) {
	var np networkingv1.NetworkPolicy
	load(t, "../networkpolicy/egress.yaml", &np)
	if !slices.Equal(np.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}) {
		t.Errorf("policyTypes = %v, want [Egress]", np.Spec.PolicyTypes)
	}
	if np.Spec.PodSelector.MatchLabels["control-plane"] != "controller-manager" {
		t.Errorf("podSelector %v does not select the manager", np.Spec.PodSelector.MatchLabels)
	}
	allowed := map[int32]bool{53: true, 6443: true, 22: true}
	for i, rule := range np.Spec.Egress {
		if len(rule.To) == 0 || len(rule.Ports) == 0 {
			t.Errorf("egress rule %d allows any destination or any port", i)
		}
		for _, to := range rule.To {
			if to.IPBlock != nil && (to.IPBlock.CIDR == "0.0.0.0/0" || to.IPBlock.CIDR == "::/0") {
				t.Errorf("egress rule %d allows every address", i)
			}
		}
		for _, p := range rule.Ports {
			if p.Port == nil || !allowed[p.Port.IntVal] {
				t.Errorf("egress rule %d allows port %v", i, p.Port)
			}
		}
	}
}
