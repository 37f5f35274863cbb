// Package image holds orderflow's container image (Dockerfile, build.sh for
// `make image`, Dockerfile.multistage for machines with a registry); its
// test builds the image with podman and proves what the image promises.
package image

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/orderflow/orderflow/worker/stacktest"
)

// runFlags are what `podman run` needs in this machine's sandbox
// (ENVIRONMENT.md): crun refuses its cgroups, and podman's default ulimits
// are above what it grants. --network none: nothing here needs one.
var runFlags = []string{"run", "--rm", "--runtime", "runc", "--network", "none",
	"--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768"}

// nonRoot is the image's user and group (Dockerfile's USER).
const nonRoot = 65532

// The image `make image` builds runs `orderflow version` with the version
// and commit it was built from, as user 65532 without being told to, on a
// read-only root filesystem; it holds the binary, the CA bundle (which Go
// finds), /etc/passwd and /etc/group and nothing else: no shell to start;
// and the process can write neither its binary nor its trust store.
func TestImageRunsOrderflowAsNonRootAndHoldsNothingElse(t *testing.T) {
	requirePodman(t)
	unique := stacktest.UniqueName("imagetest")
	name, version, commit := "localhost/orderflow-"+unique, "v0.0.0-"+unique, "c0ffee1"
	tag := name + ":" + version
	t.Cleanup(func() { _, _ = podman("rmi", "--force", tag, name+":latest") })

	build := exec.Command("bash", "build.sh")
	build.Env = append(os.Environ(), "IMAGE="+name, "VERSION="+version, "COMMIT="+commit)
	var stderr bytes.Buffer
	build.Stderr = &stderr
	out, err := build.Output()
	if err != nil {
		t.Fatalf("build.sh: %v\n%s", err, stderr.String())
	}
	if got := strings.TrimSpace(string(out)); got != tag {
		t.Fatalf("build.sh printed %q, want the tag %q", got, tag)
	}
	t.Log(strings.TrimSpace(stderr.String()))

	// The image's configuration: the user is numeric (runAsNonRoot can
	// check it), the entrypoint the binary, the labels the build's.
	var inspect []struct {
		Config struct {
			User       string
			Entrypoint []string
			Cmd        []string
			Labels     map[string]string
		}
		RepoTags []string
	}
	mustJSON(t, mustPodman(t, "image", "inspect", tag), &inspect)
	cfg := inspect[0].Config
	if cfg.User != "65532:65532" || !slices.Equal(cfg.Entrypoint, []string{"/orderflow"}) || len(cfg.Cmd) != 0 {
		t.Errorf("image config: user %q, entrypoint %q, cmd %q; want 65532:65532, [/orderflow], none", cfg.User, cfg.Entrypoint, cfg.Cmd)
	}
	if !slices.Contains(inspect[0].RepoTags, name+":latest") {
		t.Errorf("tags %v, want %s:latest too", inspect[0].RepoTags, name)
	}
	for key, want := range map[string]string{
		"org.opencontainers.image.title":    "orderflow",
		"org.opencontainers.image.version":  version,
		"org.opencontainers.image.revision": commit,
	} {
		if got := cfg.Labels[key]; got != want {
			t.Errorf("label %s = %q, want %q", key, got, want)
		}
	}
	if _, err := time.Parse(time.RFC3339, cfg.Labels["org.opencontainers.image.created"]); err != nil {
		t.Errorf("label org.opencontainers.image.created: %v", err)
	}

	// orderflow version, as the image runs it: its user, read-only.
	got := mustPodman(t, append(slices.Clone(runFlags), "--read-only", "--read-only-tmpfs=false", tag, "version")...)
	want := regexp.MustCompile(`^orderflow ` + regexp.QuoteMeta(version) + ` \(commit ` + commit + `, go1\.[0-9.]+ linux/[a-z0-9]+\)\n$`)
	if !want.Match(got) {
		t.Errorf("orderflow version printed %q, want %s", got, want)
	}

	// What a process of the image is, seen from inside: the probe runs
	// with the image's user (no --user), once on a read-only root and
	// once on a writable one, and says what it finds wrong.
	probe := filepath.Join(t.TempDir(), "probe")
	goBuild := exec.Command("go", "build", "-o", probe, "./testdata/probe")
	goBuild.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := goBuild.CombinedOutput(); err != nil {
		t.Fatalf("go build probe: %v\n%s", err, out)
	}
	for _, readOnly := range []bool{true, false} {
		args := append(slices.Clone(runFlags), "--volume", probe+":/probe:ro", "--entrypoint", "/probe")
		if readOnly {
			// No tmpfs on /tmp either: as Kubernetes runs it, without an emptyDir.
			args = append(args, "--read-only", "--read-only-tmpfs=false")
		}
		if out, err := podman(append(args, tag, fmt.Sprintf("%d:%d", nonRoot, nonRoot))...); err != nil {
			t.Errorf("read-only %v: the probe found (%v):\n%s", readOnly, err, out)
		}
	}

	// No shell: neither as a command nor at its usual path.
	for _, shell := range []string{"sh", "/bin/sh", "/bin/bash", "/busybox"} {
		out, err := podman(append(slices.Clone(runFlags), "--entrypoint", shell, tag, "-c", "id")...)
		if err == nil || !strings.Contains(string(out), "not found") && !strings.Contains(string(out), "no such file") {
			t.Errorf("running %s in the image: %v, %s; want it not found", shell, err, out)
		}
	}

	// Nothing else in the image: its files are exactly these (directories
	// aside), owned by root.
	ctr := strings.TrimSpace(string(mustPodman(t, "create", "--runtime", "runc", tag)))
	t.Cleanup(func() { _, _ = podman("rm", "--force", ctr) })
	export := exec.Command("podman", "export", ctr)
	tarball, err := export.Output()
	if err != nil {
		t.Fatalf("podman export: %v", err)
	}
	files := map[string]string{} // path -> mode
	tr := tar.NewReader(bytes.NewReader(tarball))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("the exported filesystem: %v", err)
		}
		if h.Typeflag == tar.TypeDir {
			continue
		}
		path := "/" + strings.TrimPrefix(h.Name, "./")
		files[path] = os.FileMode(h.Mode).String()
		if h.Uid != 0 || h.Gid != 0 {
			t.Errorf("%s is owned by %d:%d, want root's (the process must not own what it runs)", path, h.Uid, h.Gid)
		}
	}
	wantFiles := map[string]string{"/orderflow": "-rwxr-xr-x", "/etc/passwd": "-rw-r--r--", "/etc/group": "-rw-r--r--", "/etc/ssl/certs/ca-certificates.crt": "-rw-r--r--"}
	// podman adds these mount points to every container it creates.
	for _, mount := range []string{"/etc/hosts", "/etc/resolv.conf", "/etc/hostname", "/run/.containerenv"} {
		delete(files, mount)
	}
	if !maps.Equal(files, wantFiles) {
		t.Errorf("the image's files (path: mode) are %v, want %v", files, wantFiles)
	}
}

// Dockerfile.multistage builds, where a registry is reachable, the image that
// Dockerfile builds here: their final stages agree on every instruction but
// where their files come from.
func TestMultiStageBuildEndsInTheSameImage(t *testing.T) {
	local, multi := finalStage(t, "Dockerfile"), finalStage(t, "Dockerfile.multistage")
	if !slices.Equal(local, multi) {
		t.Errorf("the final stages differ:\nDockerfile:            %q\nDockerfile.multistage: %q", local, multi)
	}
}

// finalStage returns the instructions from the file's last FROM on, with
// continuation lines joined and each COPY reduced to its destination.
func finalStage(t *testing.T, file string) []string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var instructions []string
	pending := ""
	for line := range strings.SplitSeq(string(data), "\n") {
		line = strings.TrimSpace(line)
		if pending == "" && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if more, ok := strings.CutSuffix(line, "\\"); ok {
			pending += strings.TrimSpace(more) + " "
			continue
		}
		instructions = append(instructions, pending+line)
		pending = ""
	}
	last := -1
	for i, in := range instructions {
		if strings.HasPrefix(in, "FROM ") {
			last = i
		}
	}
	if last < 0 {
		t.Fatalf("%s has no FROM", file)
	}
	stage := instructions[last:]
	for i, in := range stage {
		if strings.HasPrefix(in, "COPY ") {
			fields := strings.Fields(in)
			stage[i] = "COPY … " + fields[len(fields)-1]
		}
	}
	return stage
}

// requirePodman skips the test without podman, as the stack's tests skip
// without their servers, except under CI, which installs it (.ci/run) and
// where a test must never pass by skipping.
func requirePodman(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("podman"); err == nil {
		return
	}
	const how = "install it with `apt-get install -y podman runc` (Debian; .ci/run does)"
	if stacktest.InCI() {
		t.Fatalf("podman is not installed and the image test is required under CI: %s", how)
	}
	t.Skipf("podman is not installed, so the image cannot be built: %s", how)
}

func podman(args ...string) ([]byte, error) {
	return exec.Command("podman", args...).CombinedOutput()
}

func mustPodman(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("podman", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("podman %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return out
}

func mustJSON(t *testing.T, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%v: %s", err, data)
	}
}
