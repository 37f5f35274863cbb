package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestVaultIsCheckedOnlyWhenConfigured(t *testing.T) {
	cfg, err := Load("testdata/minimal.good.yaml", nil)
	if err != nil {
		t.Fatalf("Load without a vault section: %v", err)
	}
	var ke *KeyError
	if err := cfg.Vault.Require(); !errors.As(err, &ke) || ke.Key != "vault.address" {
		t.Errorf("Require() = %v, want an error naming vault.address", err)
	}
	_, err = Load("testdata/minimal.good.yaml", []string{"ORDERFLOW_VAULT_ADDRESS=http://127.0.0.1:8200"})
	want := "config: vault.auth.token: required with auth method token: set env or file"
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
}

func TestVaultSecretsNeverPrint(t *testing.T) {
	cfg, err := Load("testdata/full.good.yaml", fullFileEnv)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	for _, dump := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), mustJSON(t, cfg)} {
		for _, secret := range []string{"hvs.test-token", "role-id-from-env", "secret-id-from-file"} {
			if strings.Contains(dump, secret) {
				t.Errorf("a dump of the config shows %s", secret)
			}
		}
	}
}
