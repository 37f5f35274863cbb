// Command probe checks, from inside a container of orderflow's image, what
// the image makes of a process: its user and groups, whether it can write
// the root filesystem, the binary or the CA bundle, and whether Go finds
// and trusts the bundle. The image test mounts it into a container (the
// image has no shell or tools to ask with) and runs it as the entrypoint,
// with the image's user: it prints one line per problem and exits 1 when
// there is one.
//
//	probe <uid:gid the image must run as>
package main

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"slices"
	"time"
)

func main() {
	var problems []string
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	want := "65532:65532"
	if len(os.Args) > 1 {
		want = os.Args[1]
	}
	var uid, gid int
	if _, err := fmt.Sscanf(want, "%d:%d", &uid, &gid); err != nil {
		fail("usage: probe uid:gid (%v)", err)
	}
	groups, _ := os.Getgroups()
	if os.Getuid() != uid || os.Geteuid() != uid || os.Getgid() != gid || slices.ContainsFunc(groups, func(g int) bool { return g != gid }) {
		fail("runs as uid %d (euid %d), gid %d, groups %v; want %s and no other group", os.Getuid(), os.Geteuid(), os.Getgid(), groups, want)
	}

	for _, path := range []string{"/orderflow", "/etc/ssl/certs/ca-certificates.crt", "/etc/passwd"} {
		if f, err := os.OpenFile(path, os.O_WRONLY, 0); err == nil {
			_ = f.Close()
			fail("can write %s", path)
		}
	}
	for _, path := range []string{"/probe-was-here", "/etc/probe-was-here"} {
		if f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
			_ = f.Close()
			_ = os.Remove(path)
			fail("can create %s", path)
		}
	}

	// The bundle at Go's first place on Linux, and how many of its roots
	// Go's own lookup (the one TLS to the servers and the connectors' APIs
	// uses) trusts: a root in the pool verifies as its own chain, at a time
	// it is valid (the bundle may hold one past its date).
	data, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	if err != nil {
		fail("%v", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		fail("Go's system pool: %v", err)
	}
	var certs, trusted int
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			continue
		}
		certs++
		if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: cert.NotBefore.Add(time.Second)}); pool != nil && err == nil {
			trusted++
		}
	}
	if certs < 100 || trusted != certs {
		fail("%d CA certificates in the bundle, %d of them trusted by Go's system pool; want the host's bundle, all trusted", certs, trusted)
	}

	for _, p := range problems {
		fmt.Println(p)
	}
	if len(problems) > 0 {
		os.Exit(1)
	}
}
