package main

import (
	"encoding/base64"
	"fmt"
	"os"
	"strings"

	"github.com/vobox-operator/vobox-operator/hack/lab/labstatus"
)

// writeKnownHosts writes known_hosts from every host's current public key
// (one line per address; port 22, so no brackets).
func writeKnownHosts(p labPaths, hosts []labstatus.LabHost) error {
	var b strings.Builder
	for _, h := range hosts {
		pub, err := readPublicKey(p.host(h.Name).hostKey() + ".pub")
		if err != nil {
			return fmt.Errorf("failed to read the host key of %s: %w", h.Name, err)
		}
		b.WriteString(knownHostsLine(h.Address, h.Port, pub) + "\n")
	}
	return writeFileAtomic(p.knownHosts(), []byte(b.String()), 0o644)
}

// writeSecret writes secret.yaml: the Secret the intervention's
// spec.ssh.secretRef names, type kubernetes.io/ssh-auth, with the client key
// and known_hosts.
func writeSecret(p labPaths) error {
	key, err := os.ReadFile(p.privateKey())
	if err != nil {
		return err
	}
	kh, err := os.ReadFile(p.knownHosts())
	if err != nil {
		return err
	}
	y := fmt.Sprintf(`# The SSH credentials of the vobox lab in %s (written by "lab up";
# "lab rekey" rewrites known_hosts here). Apply with: kubectl apply -f secret.yaml
apiVersion: v1
kind: Secret
metadata:
  name: %s
  labels:
    app.kubernetes.io/part-of: vobox-lab
    dirac.vobox.io/ssh-key: "true"
type: kubernetes.io/ssh-auth
data:
  ssh-privatekey: %s
  known_hosts: %s
`, p.dir, secretName, base64.StdEncoding.EncodeToString(key), base64.StdEncoding.EncodeToString(kh))
	return writeFileAtomic(p.secret(), []byte(y), 0o600)
}

// writeIntervention writes intervention.yaml: the VOBoxIntervention that
// takes the lab's hosts down for a power stop (state Down), with the lab's
// addresses, and the InnoDB journal move on the hosts that take part in it.
func writeIntervention(p labPaths, l *labstatus.Lab) error {
	var b strings.Builder
	fmt.Fprintf(&b, `# The power-stop intervention for the vobox lab in %s (topology %s),
# written by "lab up". Apply the Secret first (secret.yaml).
apiVersion: dirac.vobox.io/v1alpha1
kind: VOBoxIntervention
metadata:
  name: %s
spec:
  state: Down
  reason: power stop
  ssh:
    user: %s
    secretRef:
      name: %s
  hosts:
`, p.dir, l.Topology, interventionNm, labUser, secretName)
	var journal []string
	for _, h := range l.Hosts {
		fmt.Fprintf(&b, "    - name: %s\n      address: %s\n      roles: [%s]\n", h.Name, h.Address, strings.Join(h.Roles, ", "))
		if h.Port != sshPort {
			fmt.Fprintf(&b, "      port: %d\n", h.Port)
		}
		if h.InnodbLogMove {
			journal = append(journal, h.Name)
		}
	}
	if len(journal) > 0 {
		fmt.Fprintf(&b, "  database:\n    innodbLog:\n      to: %s\n      hosts: [%s]\n", innodbLogTarget, strings.Join(journal, ", "))
	}
	return writeFileAtomic(p.intervention(), []byte(b.String()), 0o644)
}
