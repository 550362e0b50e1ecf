// Package plugins_test checks krew's manifest of kubectl vobox with krew's
// own code: validate-krew-manifest, the check krew-index runs on every
// plugin submission (it calls krew's internal/index/validation, which no
// other module can import), and krew itself installing each archive that
// `make release` builds, from the manifest it renders.
package plugins_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// krewVersion is the krew whose validation and installer the test runs.
const krewVersion = "v0.4.3"

// krewTools builds krew and validate-krew-manifest from krew's module, in
// krew's own module graph: importing krew into this module would pull
// k8s.io/client-go v11.0.0+incompatible over ours.
func krewTools(t *testing.T) (krew, validate string) {
	t.Helper()
	bin := t.TempDir()
	cmd := exec.Command("go", "install",
		"sigs.k8s.io/krew/cmd/krew@"+krewVersion,
		"sigs.k8s.io/krew/cmd/validate-krew-manifest@"+krewVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+bin, "GOFLAGS=", "GOWORK=off", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("failed to build krew %s from the Go module proxy: %v\n%s", krewVersion, err, out)
	}
	return filepath.Join(bin, "krew"), filepath.Join(bin, "validate-krew-manifest")
}

func run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return string(out)
}

var platforms = []string{"linux_amd64", "linux_arm64", "darwin_amd64", "darwin_arm64"}

func TestKrewManifest(t *testing.T) {
	krew, validate := krewTools(t)

	// The template in the repository passes krew's structural validation.
	run(t, nil, validate, "-manifest", "vobox.yaml", "-skip-install")

	// make release, into a folder of the test's.
	dist := filepath.Join(t.TempDir(), "dist")
	const version = "v0.1.0-test.1"
	run(t, []string{"VERSION=" + version, "DIST=" + dist}, "bash", "release.sh")

	license, err := os.ReadFile(filepath.Join("..", "LICENSE"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(license, []byte("Apache License\n                           Version 2.0, January 2004")) {
		t.Errorf("LICENSE is not the Apache License 2.0")
	}
	manifest, err := os.ReadFile(filepath.Join(dist, "vobox.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range platforms {
		archive := filepath.Join(dist, "kubectl-vobox_"+p+".tar.gz")
		data, err := os.ReadFile(archive)
		if err != nil {
			t.Fatalf("make release did not write %s: %v", archive, err)
		}
		sum := sha256.Sum256(data)
		hexSum := hex.EncodeToString(sum[:])
		if side, _ := os.ReadFile(archive + ".sha256"); string(side) != hexSum+"  kubectl-vobox_"+p+".tar.gz\n" {
			t.Errorf("%s.sha256 is %q, want the archive's sum %s", filepath.Base(archive), side, hexSum)
		}
		if !bytes.Contains(manifest, []byte(`sha256: "`+hexSum+`"`)) || !bytes.Contains(manifest, []byte("/releases/download/"+version+"/kubectl-vobox_"+p+".tar.gz")) {
			t.Errorf("dist/vobox.yaml lacks %s's sum or URI:\n%s", p, manifest)
		}
		files := untar(t, data)
		if names := mapKeys(files); !slices.Equal(names, []string{"LICENSE", "kubectl-vobox"}) {
			t.Errorf("%s holds %v, want kubectl-vobox and LICENSE", filepath.Base(archive), names)
		}
		if !bytes.Equal(files["LICENSE"], license) {
			t.Errorf("%s's LICENSE is not the repository's", filepath.Base(archive))
		}
	}
	if !bytes.Contains(manifest, []byte("  version: "+version+"\n")) || bytes.Contains(manifest, []byte(strings.Repeat("0", 64))) {
		t.Errorf("dist/vobox.yaml is not rendered for %s:\n%s", version, manifest)
	}

	// krew-index's check on the rendered manifest, installs included: for
	// each platform it runs `kubectl krew install --manifest` with
	// KREW_OS/KREW_ARCH set, then looks for the LICENSE among the installed
	// files. Our kubectl is krew itself, given the archive that make release
	// built for that platform (the manifest's URIs exist only once released);
	// krew checks the archive's sha256 against the manifest.
	shimDir := t.TempDir()
	shim := "#!/bin/sh\n[ \"$1\" = krew ] && shift\nexec " + krew + " \"$@\" --archive " + dist + "/kubectl-vobox_${KREW_OS}_${KREW_ARCH}.tar.gz\n"
	if err := os.WriteFile(filepath.Join(shimDir, "kubectl"), []byte(shim), 0o755); err != nil {
		t.Fatal(err)
	}
	path := "PATH=" + shimDir + string(os.PathListSeparator) + os.Getenv("PATH")
	out := run(t, []string{path}, validate, "-manifest", filepath.Join(dist, "vobox.yaml"))
	if !strings.Contains(out, "all 4 spec.platforms installed fine") {
		t.Errorf("validate-krew-manifest did not install every platform:\n%s", out)
	}

	// A tampered archive is refused by its sum.
	bad := filepath.Join(t.TempDir(), "bad.tar.gz")
	if err := os.WriteFile(bad, append(mustRead(t, filepath.Join(dist, "kubectl-vobox_linux_amd64.tar.gz")), 0), 0o644); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	cmd := exec.Command(krew, "install", "--manifest", filepath.Join(dist, "vobox.yaml"), "--archive", bad)
	cmd.Env = append(os.Environ(), "KREW_ROOT="+root, "KREW_OS=linux", "KREW_ARCH=amd64")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "checksum does not match") {
		t.Errorf("krew installed an archive whose sum is not the manifest's: %v\n%s", err, out)
	}

	// As a person would: krew installs the archive for this machine, and
	// kubectl-vobox runs from krew's bin/ and knows its version.
	key := runtime.GOOS + "_" + runtime.GOARCH
	if !slices.Contains(platforms, key) {
		t.Logf("no archive for %s: not installing for real", key)
		return
	}
	root = t.TempDir()
	run(t, []string{"KREW_ROOT=" + root}, krew, "install", "--manifest", filepath.Join(dist, "vobox.yaml"), "--archive", filepath.Join(dist, "kubectl-vobox_"+key+".tar.gz"))
	if out := run(t, nil, filepath.Join(root, "bin", "kubectl-vobox"), "version", "--client"); out != "Plugin: kubectl-vobox "+version+"\n" {
		t.Errorf("the installed plugin says %q", out)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func untar(t *testing.T, data []byte) map[string][]byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	files := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = b
	}
}

func mapKeys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
