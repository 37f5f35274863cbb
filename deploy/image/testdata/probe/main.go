// Command probe reports, from inside a container of orderflow's image, what
// the image makes of a process: its user and groups, whether it can write
// the root filesystem, the binary or the CA bundle, and whether Go finds the
// bundle. The image test mounts it into a container (the image has no shell
// or tools to ask with) and runs it as the entrypoint, with the image's user.
package main

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"time"
)

// Report is what the probe found; the image test decodes it.
type Report struct {
	UID, GID, EUID int
	Groups         []int
	// Writable lists the paths the process could open for writing or
	// create (each attempt is undone).
	Writable []string
	// CACerts is the number of certificates in the bundle at Go's first
	// place on Linux; SystemTrusted how many of them Go's own lookup (the
	// one TLS to the servers and the connectors' APIs uses) trusts.
	CACerts       int
	SystemTrusted int
	Errors        []string
}

func main() {
	r := Report{UID: os.Getuid(), GID: os.Getgid(), EUID: os.Geteuid()}
	r.Groups, _ = os.Getgroups()
	for _, path := range []string{"/orderflow", "/etc/ssl/certs/ca-certificates.crt", "/etc/passwd"} {
		if f, err := os.OpenFile(path, os.O_WRONLY, 0); err == nil {
			_ = f.Close()
			r.Writable = append(r.Writable, path)
		}
	}
	for _, path := range []string{"/probe-was-here", "/etc/probe-was-here"} {
		if f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
			_ = f.Close()
			_ = os.Remove(path)
			r.Writable = append(r.Writable, path)
		}
	}
	data, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	if err != nil {
		r.Errors = append(r.Errors, err.Error())
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		r.Errors = append(r.Errors, err.Error())
	}
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			continue
		}
		r.CACerts++
		// A root in the pool verifies as its own chain (at a time it is
		// valid: the bundle may hold one past its date).
		if pool != nil {
			if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: cert.NotBefore.Add(time.Second)}); err == nil {
				r.SystemTrusted++
			}
		}
	}
	if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
		os.Stderr.WriteString(err.Error())
		os.Exit(1)
	}
}
