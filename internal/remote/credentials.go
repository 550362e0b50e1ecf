package remote

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
	corev1 "k8s.io/api/core/v1"
)

// The opt-in a Secret must carry before the operator uses it as SSH
// credentials (see CheckSecretAllowed).
const (
	// SecretLabelSSHKey is the label that marks a Secret as meant for the
	// operator.
	SecretLabelSSHKey = "dirac.vobox.io/ssh-key"
	// SecretLabelSSHKeyValue is the only value of SecretLabelSSHKey that
	// opts in.
	SecretLabelSSHKeyValue = "true"
	// SecretType is the only Secret type accepted.
	SecretType = corev1.SecretTypeSSHAuth
	// ReasonSecretNotAllowed is the condition reason of a
	// *SecretNotAllowedError.
	ReasonSecretNotAllowed = "SecretNotAllowed"
)

// SecretNotAllowedError says that a Secret has not opted in to being used as
// SSH credentials: it is not of type kubernetes.io/ssh-auth, or lacks the
// label dirac.vobox.io/ssh-key: "true". It is terminal: only a change to the
// Secret fixes it. Its message names the Secret and what it lacks, never its
// content.
type SecretNotAllowedError struct {
	// Secret is "namespace/name".
	Secret string
	// Missing lists what the Secret lacks, each as it would be written:
	// `type kubernetes.io/ssh-auth (it is "Opaque")`,
	// `label dirac.vobox.io/ssh-key: "true"`.
	Missing []string
}

func (e *SecretNotAllowedError) Error() string {
	return fmt.Sprintf("Secret %s is not allowed as SSH credentials: it needs %s", e.Secret, strings.Join(e.Missing, " and "))
}

// Reason returns ReasonSecretNotAllowed.
func (e *SecretNotAllowedError) Reason() string { return ReasonSecretNotAllowed }

// CheckSecretAllowed returns a *SecretNotAllowedError unless secret is of
// type kubernetes.io/ssh-auth and labelled dirac.vobox.io/ssh-key: "true",
// and nil otherwise. It reads only the type and labels, so it can run
// before the data is parsed and before any connection: a person who may
// create interventions but not read Secrets cannot borrow another Secret of
// the namespace (a CI deploy key, say) by naming it.
func CheckSecretAllowed(secret *corev1.Secret) error {
	var missing []string
	if secret.Type != SecretType {
		typ := string(secret.Type)
		if typ == "" {
			typ = string(corev1.SecretTypeOpaque)
		}
		missing = append(missing, fmt.Sprintf("type %s (it is %q)", SecretType, typ))
	}
	if v, ok := secret.Labels[SecretLabelSSHKey]; !ok {
		missing = append(missing, fmt.Sprintf("label %s: %q", SecretLabelSSHKey, SecretLabelSSHKeyValue))
	} else if v != SecretLabelSSHKeyValue {
		missing = append(missing, fmt.Sprintf("label %s: %q (it is %q)", SecretLabelSSHKey, SecretLabelSSHKeyValue, v))
	}
	if len(missing) == 0 {
		return nil
	}
	return &SecretNotAllowedError{Secret: secret.Namespace + "/" + secret.Name, Missing: missing}
}

// Keys of a Secret of type kubernetes.io/ssh-auth read by NewCredentials.
const (
	// SecretKeyPrivateKey holds the client private key: ed25519, ECDSA or RSA,
	// in OpenSSH or PEM (PKCS#1, SEC 1, PKCS#8) format, possibly encrypted.
	SecretKeyPrivateKey = "ssh-privatekey"
	// SecretKeyKnownHosts holds the hosts' public keys in OpenSSH known_hosts
	// format.
	SecretKeyKnownHosts = "known_hosts"
	// SecretKeyPassphrase optionally holds the private key's passphrase.
	SecretKeyPassphrase = "passphrase"
)

// Credentials authenticate the client and verify host keys. They are
// immutable and safe for concurrent use; build them with NewCredentials.
type Credentials struct {
	signer     ssh.Signer
	knownHosts *knownHosts
	digest     string
}

// NewCredentials builds Credentials from the data of a Kubernetes Secret (see
// the SecretKey constants). Both ssh-privatekey and known_hosts are required:
// host-key verification cannot be switched off. A passphrase is used only if
// the key is encrypted. Every failure is a *CredentialsError naming the key at
// fault.
func NewCredentials(data map[string][]byte) (*Credentials, error) {
	keyPEM, ok := data[SecretKeyPrivateKey]
	if !ok || len(keyPEM) == 0 {
		return nil, &CredentialsError{Key: SecretKeyPrivateKey, Err: errors.New("missing or empty")}
	}
	khData, ok := data[SecretKeyKnownHosts]
	if !ok || len(khData) == 0 {
		return nil, &CredentialsError{Key: SecretKeyKnownHosts, Err: errors.New("missing or empty; host-key verification is mandatory")}
	}
	passphrase := data[SecretKeyPassphrase]

	signer, err := parseSigner(keyPEM, passphrase)
	if err != nil {
		return nil, err
	}
	kh, err := parseKnownHosts(khData)
	if err != nil {
		return nil, &CredentialsError{Key: SecretKeyKnownHosts, Err: err}
	}
	return &Credentials{
		signer:     signer,
		knownHosts: kh,
		digest:     digestOf(keyPEM, khData, passphrase),
	}, nil
}

func parseSigner(keyPEM, passphrase []byte) (ssh.Signer, error) {
	signer, err := ssh.ParsePrivateKey(keyPEM)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		if len(passphrase) == 0 {
			return nil, &CredentialsError{Key: SecretKeyPrivateKey,
				Err: fmt.Errorf("key is passphrase-protected and the Secret has no %q: %w", SecretKeyPassphrase, err)}
		}
		signer, err = ssh.ParsePrivateKeyWithPassphrase(keyPEM, passphrase)
		if errors.Is(err, x509.IncorrectPasswordError) {
			return nil, &CredentialsError{Key: SecretKeyPassphrase, Err: fmt.Errorf("wrong passphrase for %s: %w", SecretKeyPrivateKey, err)}
		}
	}
	if err != nil {
		return nil, &CredentialsError{Key: SecretKeyPrivateKey, Err: fmt.Errorf("failed to parse private key: %w", err)}
	}
	return signer, nil
}

// digestOf hashes the Secret fields unambiguously (each length-prefixed).
func digestOf(fields ...[]byte) string {
	h := sha256.New()
	var n [8]byte
	for _, f := range fields {
		binary.BigEndian.PutUint64(n[:], uint64(len(f)))
		h.Write(n[:])
		h.Write(f)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Digest returns a hex SHA-256 digest of the Secret content the Credentials
// were built from. Two Credentials have the same digest exactly when built
// from the same private key, known_hosts and passphrase bytes; the executor's
// pool uses it to drop connections made with content that has since changed.
func (c *Credentials) Digest() string { return c.digest }

// Fingerprint returns the SHA256 fingerprint of the client public key,
// "SHA256:...", as ssh-keygen -l prints it, for messages and logs.
func (c *Credentials) Fingerprint() string { return ssh.FingerprintSHA256(c.signer.PublicKey()) }

// PublicKey returns the client public key in authorized_keys format, without
// the trailing newline, for an administrator to install on the hosts.
func (c *Credentials) PublicKey() string {
	b := ssh.MarshalAuthorizedKey(c.signer.PublicKey())
	return string(b[:len(b)-1])
}
