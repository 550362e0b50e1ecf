package remote

import (
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
)

func TestCheckSecretAllowed(t *testing.T) {
	t.Parallel()
	optIn := map[string]string{SecretLabelSSHKey: SecretLabelSSHKeyValue}
	for _, tc := range []struct {
		name    string
		typ     corev1.SecretType
		labels  map[string]string
		message string // "" when allowed
	}{
		{"ssh-auth and labelled", corev1.SecretTypeSSHAuth, optIn, ""},
		{"ssh-auth with other labels too", corev1.SecretTypeSSHAuth, map[string]string{"app": "x", SecretLabelSSHKey: "true"}, ""},
		{"Opaque", corev1.SecretTypeOpaque, optIn,
			`Secret ns/s is not allowed as SSH credentials: it needs type kubernetes.io/ssh-auth (it is "Opaque")`},
		{"no type reads as Opaque", "", optIn,
			`Secret ns/s is not allowed as SSH credentials: it needs type kubernetes.io/ssh-auth (it is "Opaque")`},
		{"service account token", corev1.SecretTypeServiceAccountToken, optIn,
			`Secret ns/s is not allowed as SSH credentials: it needs type kubernetes.io/ssh-auth (it is "kubernetes.io/service-account-token")`},
		{"no label", corev1.SecretTypeSSHAuth, nil,
			`Secret ns/s is not allowed as SSH credentials: it needs label dirac.vobox.io/ssh-key: "true"`},
		{"label false", corev1.SecretTypeSSHAuth, map[string]string{SecretLabelSSHKey: "false"},
			`Secret ns/s is not allowed as SSH credentials: it needs label dirac.vobox.io/ssh-key: "true" (it is "false")`},
		{"label empty", corev1.SecretTypeSSHAuth, map[string]string{SecretLabelSSHKey: ""},
			`Secret ns/s is not allowed as SSH credentials: it needs label dirac.vobox.io/ssh-key: "true" (it is "")`},
		{"label True", corev1.SecretTypeSSHAuth, map[string]string{SecretLabelSSHKey: "True"},
			`Secret ns/s is not allowed as SSH credentials: it needs label dirac.vobox.io/ssh-key: "true" (it is "True")`},
		{"annotation is not a label", corev1.SecretTypeSSHAuth, nil,
			`Secret ns/s is not allowed as SSH credentials: it needs label dirac.vobox.io/ssh-key: "true"`},
		{"neither", corev1.SecretTypeOpaque, map[string]string{"dirac.vobox.io/ssh": "true"},
			`Secret ns/s is not allowed as SSH credentials: it needs type kubernetes.io/ssh-auth (it is "Opaque") and label dirac.vobox.io/ssh-key: "true"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			secret := &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "s", Labels: tc.labels,
					Annotations: map[string]string{SecretLabelSSHKey: "true"}},
				Type: tc.typ,
				Data: map[string][]byte{SecretKeyPrivateKey: []byte("SECRET-KEY-MATERIAL"), SecretKeyKnownHosts: []byte("h k")},
			}
			err := CheckSecretAllowed(secret)
			if tc.message == "" {
				if err != nil {
					t.Fatalf("CheckSecretAllowed = %v, want nil", err)
				}
				return
			}
			var notAllowed *SecretNotAllowedError
			if !errors.As(err, &notAllowed) || err.Error() != tc.message {
				t.Fatalf("CheckSecretAllowed = %v, want a SecretNotAllowedError %q", err, tc.message)
			}
			if notAllowed.Reason() != ReasonSecretNotAllowed || notAllowed.Secret != "ns/s" {
				t.Errorf("Reason = %q, Secret = %q", notAllowed.Reason(), notAllowed.Secret)
			}
		})
	}
}

// TestSecretOptInMatchesAPI keeps this package's names equal to the API's,
// which the controller reports and the documentation names.
func TestSecretOptInMatchesAPI(t *testing.T) {
	t.Parallel()
	if SecretLabelSSHKey != diracv1.SSHKeyLabel {
		t.Errorf("SecretLabelSSHKey = %q, API SSHKeyLabel = %q", SecretLabelSSHKey, diracv1.SSHKeyLabel)
	}
	if ReasonSecretNotAllowed != diracv1.ReasonSecretNotAllowed {
		t.Errorf("ReasonSecretNotAllowed = %q, API = %q", ReasonSecretNotAllowed, diracv1.ReasonSecretNotAllowed)
	}
}
