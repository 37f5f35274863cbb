package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/orderflow/orderflow/worker/config"
)

// Command roles of deploy/vault: each command logs in as its own, so that
// the worker's login cannot decrypt nor the dispatcher's destroy a key.
const (
	roleWorker     = "worker"
	roleDispatcher = "dispatcher"
	rolePurger     = "purger"
)

// roleLogins are the Vault logins of the local stack's command roles, read
// from the <role>.env files that deploy/vault/apply.sh --credentials writes.
// The demo runs each step under its command's role with them; an empty set
// (no stack roles) leaves every step on the loaded configuration's login.
type roleLogins map[string]config.VaultAuth

// loadRoleLogins loads the configuration at configPath once per role, with the
// role's overrides added to environ, and keeps each one's Vault login: the same
// resolution of references and the same checks as the command itself.
func loadRoleLogins(configPath string, environ []string, dir string, roles ...string) (roleLogins, error) {
	logins := roleLogins{}
	if dir == "" {
		return logins, nil
	}
	for _, role := range roles {
		overrides, err := readEnvFile(filepath.Join(dir, role+".env"))
		if err != nil {
			return nil, fmt.Errorf("role %s: %w", role, err)
		}
		cfg, err := config.Load(configPath, append(slices.Clip(environ), overrides...))
		if err != nil {
			return nil, fmt.Errorf("role %s: %w", role, err)
		}
		logins[role] = cfg.Vault.Auth
	}
	return logins, nil
}

// as returns cfg logging in to Vault as role, when the role is known.
func (l roleLogins) as(role string, cfg config.Config) config.Config {
	if auth, ok := l[role]; ok {
		cfg.Vault.Auth = auth
	}
	return cfg
}

// readEnvFile returns the KEY=VALUE lines of a shell environment file,
// without comments and blank lines.
func readEnvFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read role file: %w", err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !strings.Contains(line, "=") {
			return nil, fmt.Errorf("read role file %s: a line is not KEY=VALUE", path)
		}
		lines = append(lines, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read role file %s: %w", path, err)
	}
	return lines, nil
}
