package config

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/orderflow/orderflow/worker/channel"
	"github.com/orderflow/orderflow/worker/order"
)

func TestFullFileSetsEveryKey(t *testing.T) {
	cfg, err := Load("testdata/full.good.yaml", fullFileEnv)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := Config{
		Kafka: Kafka{
			Brokers:           []string{"kafka-0.kafka:9092", "kafka-1.kafka:9092"},
			ClientID:          "orderflow-eu",
			GroupID:           "orderflow-eu",
			Topics:            Topics{Channels: map[order.Channel]string{"amazon": "eu.orders.amazon", "ebay": "eu.orders.ebay"}, DeadLetter: "eu.orders.dlq", Courier: "eu.connector.courier", Accounting: "eu.connector.accounting", Parked: "eu.connector.parked", Erasure: "eu.requests.erasure"},
			SessionTimeout:    45 * time.Second,
			RebalanceTimeout:  time.Minute,
			HeartbeatInterval: 5 * time.Second,
			SASL:              SASL{Mechanism: "scram-sha-512", Username: "orderflow", Password: SecretRef{Env: "TEST_KAFKA_PASSWORD", Value: "s3cr3t-pass"}},
			TLS:               TLS{Enabled: true, CAFile: "testdata/tls/ca.pem", CertFile: "testdata/tls/client.pem", KeyFile: "testdata/tls/client-key.pem", ServerName: "kafka.orderflow.internal"},
		},
		Pipeline: Pipeline{BatchMaxMessages: 5000, BatchMaxWait: 500 * time.Millisecond, BatchIdle: 10 * time.Millisecond, MinWriteInterval: 250 * time.Millisecond, RetryInitial: 200 * time.Millisecond, RetryMax: time.Minute, ShutdownTimeout: 20 * time.Second, MaxClockSkew: 2 * time.Hour},
		Metrics:  Metrics{Listen: "127.0.0.1:9464", Pprof: true, Pushgateway: "http://pushgateway.monitoring:9091", TLS: ServerTLS{CertFile: "testdata/tls/client.pem", KeyFile: "testdata/tls/client-key.pem"}},
		Log:      Log{Level: "debug", Format: "text"},
		Vault: Vault{
			Address:        "https://vault.vault.svc:8200",
			CACertFile:     "/etc/orderflow/vault-ca.pem",
			TransitMount:   "transit-eu",
			KeyPrefix:      "orderflow-eu-",
			PlatformKey:    "orderflow-eu-platform",
			CreateKeys:     false,
			BatchSize:      500,
			Concurrency:    8,
			RequestTimeout: 5 * time.Second,
			MaxAttempts:    8,
			RetryInitial:   50 * time.Millisecond,
			RetryMax:       10 * time.Second,
			TokenCacheSize: 200_000,
			Auth: VaultAuth{
				Method: "approle",
				Token:  SecretRef{Env: "TEST_VAULT_TOKEN", Value: "hvs.test-token"},
				AppRole: VaultAppRole{
					MountPath: "approle-eu",
					RoleID:    SecretRef{Env: "TEST_VAULT_ROLE_ID", Value: "role-id-from-env"},
					SecretID:  SecretRef{File: "testdata/vault-secret-id", Value: "secret-id-from-file"},
				},
				Kubernetes: VaultKubernetes{MountPath: "kubernetes-eu", Role: "orderflow-eu", TokenFile: "/var/run/secrets/tokens/vault"},
			},
		},
		ClickHouse: ClickHouse{
			Addr:               []string{"clickhouse-0.clickhouse:9440", "clickhouse-1.clickhouse:9440"},
			Database:           "orderflow_eu",
			RestrictedDatabase: "orderflow_eu_restricted",
			Username:           "orderflow_writer",
			Password:           SecretRef{Env: "TEST_CLICKHOUSE_PASSWORD", Value: "ch-pass"},
			TLS:                TLS{Enabled: true, CAFile: "testdata/tls/ca.pem", CertFile: "testdata/tls/client.pem", KeyFile: "testdata/tls/client-key.pem", ServerName: "clickhouse.orderflow.internal"},
			DialTimeout:        2 * time.Second,
			QueryTimeout:       2 * time.Minute,
			MaxOpenConns:       16,
			MutationTimeout:    time.Hour,
			Cluster:            "orderflow_prod",
		},
		Retention: Retention{
			Label:                   Period{Days: 21},
			Financial:               Period{Years: 7},
			FinancialByJurisdiction: map[string]Period{"DE": {Years: 10}, "FR": {Years: 10}},
			FinancialYearEnd:        YearEnd{Month: time.December, Day: 31},
			FinancialYearEndByTenant: map[string]YearEnd{
				"acme":        {Month: time.June, Day: 30},
				"leap-seller": {Month: time.February, Day: 29},
			},
			Analytics: Period{Months: 18},
			Interval:  30 * time.Minute,
			Lease:     Lease{Enabled: false, KVMount: "kv-eu", Path: "eu/orderflow/leases", TTL: 30 * time.Second},
		},
		Offboarding: Offboarding{ReloadInterval: 5 * time.Second, StaleAfter: 30 * time.Second, LiveWithin: time.Minute, AckTimeout: 10 * time.Minute},
		Connectors: Connectors{"royalmail": fullFileRoyalMail(), "books": {
			Kind: "xero", Purpose: PurposeAccounting, Endpoint: "https://api.xero.com/api.xro/2.0",
			Credentials: SecretRef{Env: "TEST_XERO_CLIENT_SECRET", Value: "xero-secret"}, Tenants: []string{"acme"}, KeyID: "1",
			Parcel: Parcel{Format: "parcel"},
			Accounting: Accounting{
				Organisation: "2f7b3c1e-6a0d-4a8b-9f0e-1c2d3e4f5a6b", ClientID: "B3A1C2D4E5F60718",
				RefreshToken:    SecretRef{File: "testdata/xero-refresh-token", Value: "xero-refresh"},
				TokenURL:        "https://identity.xero.com/connect/token",
				Accounts:        map[string]string{"sales": "200", "shipping": "205", "discount": "210", "other": "220", "refund": "215", "marketplace_vat": "825"},
				TaxTypes:        map[string]string{"20": "OUTPUT2", "5": "RROUTPUT", "0": "ZERORATEDOUTPUT"},
				ClearingAccount: "610", NoVATTaxType: "NONE",
				Status: "authorised", Refunds: "credit_note", MarketplaceVAT: "omit", Period: "weekly", Grace: 72 * time.Hour, Invoices: true,
				Document: "journal_entry", Negative: "bill", DueDays: 14,
			},
		}},
		Egress: Egress{
			AllowedHosts: []string{"api.parcel.royalmail.com", "api.xero.com", "identity.xero.com"},
			Tenants:      map[string][]string{"globex": {"hooks.globex.example"}},
		},
		Dispatch: Dispatch{
			GroupID: "orderflow-eu-dispatch", BatchMaxMessages: 200, BatchMaxWait: 2 * time.Second, MaxAttempts: 12,
			RetryInitial: time.Second, RetryMax: 2 * time.Minute, ReplayGroupID: "orderflow-eu-replay",
			AccountingGroupID: "orderflow-eu-accounting", AccountingInterval: 30 * time.Minute,
		},
		EbayNotifications: EbayNotifications{
			Listen: "0.0.0.0:8091", Endpoint: "https://orderflow.example.com/ebay/account-deletion",
			VerificationToken: SecretRef{Env: "TEST_EBAY_VERIFICATION_TOKEN", Value: "a-verification-token-of-32-chars-or-more"},
			ClientID:          "Orderflo-orderflo-PRD-0123456789-abcdef01",
			ClientSecret:      SecretRef{File: "testdata/ebay-client-secret", Value: "PRD-client-secret-from-file"},
			APIURL:            "https://api.sandbox.ebay.com", KeyCacheTTL: 30 * time.Minute,
		},
	}
	if diff := cmp.Diff(want, cfg); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
	// The file must really set every key: none may still hold its default.
	def := reflect.ValueOf(Defaults())
	got := reflect.ValueOf(cfg)
	// A reference names env or file, never both: the other half stays empty.
	otherHalf := map[string]bool{
		"kafka.sasl.password.file":                   true,
		"vault.auth.token.file":                      true,
		"vault.auth.approle.role_id.file":            true,
		"vault.auth.approle.secret_id.env":           true,
		"clickhouse.password.file":                   true,
		"ebay_notifications.verification_token.file": true,
		"ebay_notifications.client_secret.env":       true,
		// 3w is the default 21d, written another way.
		"retention.label": true,
	}
	for _, k := range Keys() {
		if otherHalf[k.Path] {
			continue
		}
		if reflect.DeepEqual(lookup(def, k.Path).Interface(), lookup(got, k.Path).Interface()) {
			t.Errorf("full.good.yaml leaves %s at its default", k.Path)
		}
	}
}

// fullFileEnv holds the variables that full.good.yaml's secret references name.
var fullFileEnv = []string{
	"TEST_KAFKA_PASSWORD=s3cr3t-pass",
	"TEST_VAULT_TOKEN=hvs.test-token",
	"TEST_VAULT_ROLE_ID=role-id-from-env",
	"TEST_EBAY_VERIFICATION_TOKEN=a-verification-token-of-32-chars-or-more",
	"TEST_CLICKHOUSE_PASSWORD=ch-pass",
	"TEST_ROYALMAIL_API_KEY=rm-api-key",
	"TEST_XERO_CLIENT_SECRET=xero-secret",
}

func TestMinimalFileTakesDefaults(t *testing.T) {
	cfg, err := Load("testdata/minimal.good.yaml", nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := Defaults()
	want.Kafka.Brokers = []string{"127.0.0.1:19092"}
	if diff := cmp.Diff(want, cfg); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
}

func TestBadFilesAreRefusedNamingTheKey(t *testing.T) {
	cases := map[string]string{
		"unknown-key.bad.yaml": "config testdata/unknown-key.bad.yaml: pipeline.batch_max_mesages: line 4: unknown key",
		"wrong-type.bad.yaml":  "config testdata/wrong-type.bad.yaml: pipeline.batch_max_messages: line 4: cannot unmarshal !!str `lots` into int",
		"secret-value.bad.yaml": "config testdata/secret-value.bad.yaml: kafka.sasl.password: line 6: a secret is given by reference " +
			"({env: NAME} or {file: PATH}), never as a value",
		"out-of-range.bad.yaml": "config: kafka.brokers: entry 1 is not host:port\n" +
			"kafka.topics.dead_letter: is kafka.topics.amazon's topic too: every channel, dead_letter, courier, accounting, parked and erasure need a topic of their own\n" +
			"pipeline.batch_max_messages: must be between 1 and 100000, got 0\n" +
			"pipeline.batch_max_wait: must be between 1ms and 1m0s, got 2h0m0s\n" +
			`log.level: "verbose" is not one of debug, info, warn, error`,
		"retention.bad.yaml": "config: clickhouse.addr: entry 0 is not host:port\n" +
			"clickhouse.restricted_database: must differ from clickhouse.database: access is granted per database\n" +
			`clickhouse.cluster: "prod-eu" is not a cluster name of letters, digits and '_'` + "\n" +
			"retention.label: must be between 1d and 366d, got 0d\n" +
			`retention.financial_by_jurisdiction.DE: must be between 1d and 30y, got 0d` + "\n" +
			`retention.financial_by_jurisdiction.uk: "uk" is not an ISO 3166-1 alpha-2 country code such as GB` + "\n" +
			"retention.interval: must be between 1m0s and 24h0m0s, got 5s",
		"period.bad.yaml": `config testdata/period.bad.yaml: retention.financial: line 4: "six years" is not a period such as 21d, 3w, 18mo or 6y`,
		"statutory.bad.yaml": "config: retention.financial: 71mo30d is below the statutory minimum of 6y for GB records " +
			"(HMRC: FA 1998 Sch. 18 para. 21, VATA 1994 Sch. 11 para. 6)\n" +
			"retention.financial_by_jurisdiction.DE: 8y is below the statutory minimum of 10y for DE records (AO §147, HGB §257)\n" +
			"retention.financial_by_jurisdiction.PL: 5y is below the statutory minimum of 6y for PL records (Ustawa o rachunkowości " +
			"art. 74; raised to the platform's 6y (HMRC: FA 1998 Sch. 18 para. 21, VATA 1994 Sch. 11 para. 6))",
		"year-end.bad.yaml": `config testdata/year-end.bad.yaml: retention.financial_year_end: line 4: "02-30" is not a day of the year, MM-DD, such as 03-31` + "\n" +
			`retention.financial_year_end_by_tenant: line 6: "13-01" is not a day of the year, MM-DD, such as 03-31`,
		"lease.bad.yaml": `config: metrics.pushgateway: "pushgateway:9091" is not an http(s) URL such as http://pushgateway:9091` + "\n" +
			"retention.financial_year_end_by_tenant: a key of 8 bytes is not a tenant id (1-64 characters of a-z, 0-9, '-' and '_', with no run of digits that could be a card number)\n" +
			"retention.financial_year_end_by_tenant: a key of 21 bytes is not a tenant id (1-64 characters of a-z, 0-9, '-' and '_', with no run of digits that could be a card number)\n" +
			`retention.lease.kv_mount: "/secret/" is not a mount path such as secret` + "\n" +
			`retention.lease.path: "orderflow/../leases" is not a path such as orderflow/leases` + "\n" +
			"retention.lease.ttl: must be between 5s and 1h0m0s, got 1s",
		"unknown-channel.bad.yaml": "config testdata/unknown-channel.bad.yaml: kafka.topics.walmart: line 5: " +
			"not a channel this worker reads (amazon, ebay) nor dead_letter",
		"topic-name.bad.yaml": "config: kafka.topics.amazon: is not " + channel.TopicNameRule + "\n" +
			"kafka.topics.ebay: is not " + channel.TopicNameRule + "\n" +
			"kafka.topics.dead_letter: is not " + channel.TopicNameRule,
		"tls.bad.yaml": "config: kafka.sasl.mechanism: plain sends the password as it is: it needs kafka.tls.enabled\n" +
			"kafka.tls.ca_file: is set but kafka.tls.enabled is false: the connection would not use it\n" +
			"kafka.tls.ca_file: cannot read testdata/no-such-ca.pem: no such file or directory\n" +
			"clickhouse.tls: cert_file and key_file go together (mutual TLS): set both or neither",
		"not-yaml.bad.yaml": "config testdata/not-yaml.bad.yaml: not valid YAML: yaml: line 1: did not find expected ',' or ']'",
		"vault.bad.yaml": `config: vault.address: "vault:8200" is not an http(s) URL such as https://vault:8200` + "\n" +
			`vault.key_prefix: "-orderflow" is not 1-64 letters, digits, '_', '-' or '.', starting with a letter, digit or '_'` + "\n" +
			"vault.batch_size: must be between 1 and 10000, got 0\n" +
			`vault.auth.approle.mount_path: "/approle/" is not a mount path such as approle` + "\n" +
			"vault.auth.approle.role_id: required with auth method approle: set env or file\n" +
			"vault.auth.approle.secret_id: required with auth method approle: set env or file",
		// A key of the retention section with a period is a class's: an
		// undeclared one is named as such; another unknown key is only unknown.
		"class.bad.yaml": `config testdata/class.bad.yaml: retention.archive: line 6: unknown key: "archive" is not a retention class: ` +
			"the classes are analytics, label, financial (declared in worker/config/classes.go)\n" +
			"retention.intervall: line 7: unknown key",
		// P7: a connector without a purpose, with one that is not delivery
		// or accounting (marketing), or with another than its kind's.
		"connector-purpose.bad.yaml": "config: connectors.books.purpose: accounting, but a webhook connector's purpose is delivery " +
			"(its allow-list, schemas/policy/connectors.yaml)\n" +
			"connectors.courierhook.purpose: required: every connector declares its purpose, delivery or accounting (P7)\n" +
			`connectors.royalmail.purpose: "marketing" is not delivery or accounting: order data is shared only to deliver ` +
			"and to account for orders, never for marketing or any other purpose (P7)",
		"connector-keys.bad.yaml": "config testdata/connector-keys.bad.yaml: connectors.royalmail.credentials: line 10: " +
			"a secret is given by reference ({env: NAME} or {file: PATH}), never as a value\n" +
			"connectors.royalmail.parcel.fromat: line 11: unknown key",
		"connector-accounting-twice.bad.yaml": "config: connectors.newbooks.tenants: entry 0 is connectors.books's too: a tenant's books are posted by one accounting connector",
		"connector-accounting.bad.yaml": "config: connectors.books.tenants: an accounting connector posts one seller's books: name exactly one tenant\n" +
			"connectors.books.accounting.organisation: must not be empty\n" +
			"connectors.books.accounting.client_id: must not be empty\n" +
			"connectors.books.accounting.refresh_token: required: set env or file\n" +
			"connectors.books.accounting.accounts.sales: required: the account of the sales lines\n" +
			"connectors.books.accounting.accounts.marketplace_vat: required: the account of the marketplace_vat lines\n" +
			"connectors.books.accounting.accounts.postage: not a line kind: the kinds are sales, shipping, discount, other, refund, marketplace_vat\n" +
			"connectors.books.accounting.items.gift: not a line kind: the kinds are sales, shipping, discount, other, refund, marketplace_vat\n" +
			"connectors.books.accounting.clearing_account: must not be empty\n" +
			"connectors.books.accounting.no_vat_tax_type: must not be empty\n" +
			"connectors.books.accounting.items.sales: required with invoices or sales receipts: the QuickBooks item of the sales lines\n" +
			"connectors.books.accounting.negative: negative and due_days are xero's settings\n" +
			`connectors.books.accounting.tax_types.20.0: not a VAT rate as postings write it ("20", "5", "0", "13.5")` + "\n" +
			`connectors.books.accounting.tax_types.twenty: not a VAT rate as postings write it ("20", "5", "0", "13.5")` + "\n" +
			`connectors.books.accounting.status: "paid" is not one of [draft authorised]` + "\n" +
			`connectors.books.accounting.period: "yearly" is not one of [daily weekly monthly]` + "\n" +
			`connectors.books.accounting.document: "invoice" is not one of [journal_entry sales_receipt]`,
		"connector-routing.bad.yaml": "config: kafka.topics.courier: is kafka.topics.dead_letter's topic too: every channel, dead_letter, courier, accounting, parked and erasure need a topic of their own\n" +
			`connectors.royalmail.tenants: entry 2 is neither "*" nor a tenant id (` + order.TenantIDRule + ")\n" +
			"connectors.royalmail.rate_per_second: must be between 0 (the kind's documented limit) and 1000\n" +
			"connectors.zhook.tenants: entry 1 is connectors.royalmail's too: a tenant's courier jobs go to one connector\n" +
			`connectors.zhook.tenants: entry 2 is connectors.royalmail's too: a tenant's courier jobs go to one connector` + "\n" +
			"connectors.zhook.key_id: must be 1-64 of A-Z, a-z, 0-9, '_' and '-' (sent as webhook-key-id)\n" +
			"connectors.zhook.burst: must be between 0 (the kind's default) and 1000, got 5000\n" +
			"connectors.zhook.timeout: must be between 100ms and 5m0s, got 10m0s\n" +
			"dispatch.replay_group_id: must differ from dispatch.group_id: replaying parked jobs must not move the dispatcher's offsets\n" +
			"dispatch.max_attempts: must be between 1 and 100, got 0",
		"connector-values.bad.yaml": "config: connectors.Royal-Mail: a connector's name is 1-32 of a-z, 0-9 and '_', starting with a letter\n" +
			`connectors.parcels.kind: "dpd" is not a connector kind: the kinds are clickanddrop, webhook, xero, quickbooks (declared in worker/config/connectors.go)` + "\n" +
			`connectors.parcels.endpoint: is plain http to "api.dpd.example": https only, except to a loopback host (127.0.0.1, ::1, localhost)` + "\n" +
			"connectors.parcels.credentials: required: set env or file\n" +
			`connectors.parcels.tenants: required: the tenants whose courier jobs it carries, or "*" for every tenant no other connector lists` + "\n" +
			"connectors.parcels.notifications: entry 1 is not a tenant id (" + order.TenantIDRule + ")\n" +
			"connectors.parcels.parcel.weight_grams: must be between 1 and 30000, got 0\n" +
			"connectors.parcels.parcel.tariff_code: a value of 7 characters is not an HS tariff code of 6 to 10 digits\n" +
			"connectors.parcels.services.Standard: must not be empty",
	}
	files, _ := filepath.Glob("testdata/*.bad.yaml")
	if len(files) != len(cases) {
		t.Errorf("%d bad files on disk, %d cases", len(files), len(cases))
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Load(filepath.Join("testdata", name), nil)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			if err.Error() != want {
				t.Errorf("error\n got: %s\nwant: %s", err, want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error quotes the secret")
			}
		})
	}
}

// tls: true, the form from before TLS was a section, still turns TLS on.
func TestTLSTrueIsTheOlderFormOfEnabled(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte("kafka:\n  brokers: [\"k:9093\"]\n  tls: true\nclickhouse:\n  tls: false\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Kafka.TLS.Enabled || cfg.ClickHouse.TLS.Enabled {
		t.Errorf("kafka.tls %+v, clickhouse.tls %+v: want on and off", cfg.Kafka.TLS, cfg.ClickHouse.TLS)
	}
}

func TestMissingFileIsRefused(t *testing.T) {
	if _, err := Load("testdata/does-not-exist.yaml", nil); err == nil || !strings.Contains(err.Error(), "does-not-exist.yaml") {
		t.Errorf("error %v does not name the missing file", err)
	}
}

// TestEveryKeyHasAnEnvironmentOverride sets each key through its variable alone and
// checks that the value lands in that key.
func TestEveryKeyHasAnEnvironmentOverride(t *testing.T) {
	keys := Keys()
	if len(keys) < 15 {
		t.Fatalf("only %d keys found: the walk is broken", len(keys))
	}
	for _, k := range keys {
		t.Run(k.Path, func(t *testing.T) {
			cfg := Defaults()
			field := lookup(reflect.ValueOf(&cfg).Elem(), k.Path)
			raw, want := sampleValue(t, field)
			if err := applyEnv(&cfg, []string{k.Env + "=" + raw}); err != nil {
				t.Fatalf("%s=%s: %v", k.Env, raw, err)
			}
			if got := lookup(reflect.ValueOf(cfg), k.Path).Interface(); !reflect.DeepEqual(got, want) {
				t.Errorf("%s=%s set %s to %v, want %v", k.Env, raw, k.Path, got, want)
			}
		})
	}
}

func TestEnvironmentOverridesTheFile(t *testing.T) {
	cfg, err := Load("testdata/full.good.yaml", append([]string{
		"ORDERFLOW_KAFKA_BROKERS=a:1, b:2",
		"ORDERFLOW_PIPELINE_BATCH_MAX_WAIT=40ms",
	}, fullFileEnv...))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if fmt.Sprint(cfg.Kafka.Brokers) != "[a:1 b:2]" || cfg.Pipeline.BatchMaxWait != 40*time.Millisecond {
		t.Errorf("overrides not applied: brokers %v, batch_max_wait %s", cfg.Kafka.Brokers, cfg.Pipeline.BatchMaxWait)
	}
}

func TestBadEnvironmentValueNamesKeyAndVariable(t *testing.T) {
	_, err := Load("testdata/minimal.good.yaml", []string{"ORDERFLOW_PIPELINE_BATCH_MAX_WAIT=soon"})
	want := "config: pipeline.batch_max_wait: from ORDERFLOW_PIPELINE_BATCH_MAX_WAIT: not a duration such as 500ms or 2m"
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
}

func TestSecretFromFileAndRedaction(t *testing.T) {
	path := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(path, []byte("pa55-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load("testdata/minimal.good.yaml", []string{
		"ORDERFLOW_KAFKA_SASL_MECHANISM=plain",
		"ORDERFLOW_KAFKA_SASL_USERNAME=orderflow",
		"ORDERFLOW_KAFKA_TLS_ENABLED=true",
		"ORDERFLOW_KAFKA_SASL_PASSWORD_FILE=" + path,
	})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got := cfg.Kafka.SASL.Password.Value.Reveal(); got != "pa55-from-file" {
		t.Errorf("secret = %q", got)
	}
	for _, dump := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), mustJSON(t, cfg)} {
		if strings.Contains(dump, "pa55") {
			t.Errorf("a dump of the config shows the secret: %s", dump)
		}
	}
}

func TestSecretReferenceToNothingIsRefused(t *testing.T) {
	_, err := Load("testdata/minimal.good.yaml", []string{
		"ORDERFLOW_KAFKA_SASL_MECHANISM=plain",
		"ORDERFLOW_KAFKA_SASL_USERNAME=orderflow",
		"ORDERFLOW_KAFKA_TLS_ENABLED=true",
		"ORDERFLOW_KAFKA_SASL_PASSWORD_ENV=NOT_SET_ANYWHERE",
	})
	want := "config: kafka.sasl.password: environment variable NOT_SET_ANYWHERE is unset or empty"
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
}

// lookup finds the field at a dotted yaml path, or a channel's value in an
// inlined channel map (kafka.topics.amazon).
func lookup(v reflect.Value, path string) reflect.Value {
	for name := range strings.SplitSeq(path, ".") {
		field, ok := sectionFields(v)[name]
		if !ok {
			if m := channelMap(v); m.IsValid() {
				field = m.MapIndex(reflect.ValueOf(order.Channel(name)))
			}
		}
		v = field
	}
	return v
}

// sampleValue returns an environment string for field's type and the value it
// must decode to, different from every default.
func sampleValue(t *testing.T, field reflect.Value) (string, any) {
	t.Helper()
	switch {
	case field.Type() == durationType:
		return "1234ms", 1234 * time.Millisecond
	case field.Type() == periodType:
		return "1y2mo3d", Period{Years: 1, Months: 2, Days: 3}
	case field.Type() == periodMapType:
		return "DE=10y, FR=9y", map[string]Period{"DE": {Years: 10}, "FR": {Years: 9}}
	case field.Type() == yearEndType:
		return "02-29", YearEnd{Month: time.February, Day: 29}
	case field.Type() == yearEndMapType:
		return "acme=12-31, beta=06-30", map[string]YearEnd{"acme": {Month: time.December, Day: 31}, "beta": {Month: time.June, Day: 30}}
	case field.Type() == listMapType:
		return "acme=a.example b.example, beta=c.example", map[string][]string{"acme": {"a.example", "b.example"}, "beta": {"c.example"}}
	case field.Kind() == reflect.String:
		return "value-from-env", "value-from-env"
	case field.Kind() == reflect.Int:
		return "4321", 4321
	case field.Kind() == reflect.Bool:
		return "true", true
	case field.Kind() == reflect.Slice:
		return "x:1,y:2", []string{"x:1", "y:2"}
	}
	t.Fatalf("no sample for %s", field.Type())
	return "", nil
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPeriods(t *testing.T) {
	for in, want := range map[string]Period{
		"21d": {Days: 21}, "3w": {Days: 21}, "6y": {Years: 6}, "18mo": {Months: 18}, "1y6mo2w1d": {Years: 1, Months: 6, Days: 15},
	} {
		got, err := ParsePeriod(in)
		if err != nil || got != want {
			t.Errorf("ParsePeriod(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "6", "y", "6 y", "21D", "-1d", "1h", "6y 2d", "99999999999999999999d"} {
		if p, err := ParsePeriod(in); err == nil {
			t.Errorf("ParsePeriod(%q) = %v, want an error", in, p)
		}
	}
	// Calendar arithmetic: six years before 29 Feb 2032 is 29 Feb 2026, which
	// time.AddDate normalises to 1 March.
	at := time.Date(2032, 2, 29, 12, 0, 0, 0, time.UTC)
	if got, want := (Period{Years: 6}).Before(at), time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("6y before %s = %s, want %s", at, got, want)
	}
	if got := (Period{Days: 21}).After(at); !got.Equal(at.Add(21 * 24 * time.Hour)) {
		t.Errorf("21d after %s = %s", at, got)
	}
}

func TestRetentionByJurisdiction(t *testing.T) {
	cfg, err := Load("testdata/full.good.yaml", fullFileEnv)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Retention.FinancialFor("DE"); got != (Period{Years: 10}) {
		t.Errorf("DE: %v", got)
	}
	if got := cfg.Retention.FinancialFor("GB"); got != (Period{Years: 7}) {
		t.Errorf("GB: %v", got)
	}
}

// An offboarding skips a silent worker only once it is certainly quiet: the
// configuration refuses a live_within that is not longer than stale_after +
// vault.request_timeout + 2s, naming the key, and accepts one just longer.
func TestOffboardingLiveWithinOutlastsAStaleWorkersLastRequest(t *testing.T) {
	for _, c := range []struct {
		env []string
		ok  bool
	}{
		{nil, true}, // the defaults: 90s > 1m + 10s + 2s
		{[]string{"ORDERFLOW_OFFBOARDING_LIVE_WITHIN=72s"}, false},
		{[]string{"ORDERFLOW_OFFBOARDING_LIVE_WITHIN=73s"}, true},
		{[]string{"ORDERFLOW_VAULT_REQUEST_TIMEOUT=30s"}, false},
		{[]string{"ORDERFLOW_OFFBOARDING_STALE_AFTER=5m"}, false},
		{[]string{"ORDERFLOW_OFFBOARDING_STALE_AFTER=15s"}, false}, // less than twice reload_interval
		{[]string{"ORDERFLOW_OFFBOARDING_STALE_AFTER=20s", "ORDERFLOW_OFFBOARDING_LIVE_WITHIN=33s"}, true},
	} {
		env := append([]string{"ORDERFLOW_KAFKA_BROKERS=127.0.0.1:19092"}, c.env...)
		_, err := Load("", env)
		if c.ok && err != nil {
			t.Errorf("%v refused: %v", c.env, err)
		}
		if !c.ok && (err == nil || !strings.Contains(err.Error(), "offboarding.")) {
			t.Errorf("%v: %v, want a refusal naming an offboarding key", c.env, err)
		}
	}
}

// kafka.topics is a map from each registered channel to its order stream,
// beside dead_letter: every channel needs a topic of its own, a key naming no
// channel is refused (in a file, in code), and the worker reads the topics in
// the registry's order.
func TestTopicsAreAMapOfTheRegisteredChannels(t *testing.T) {
	def := Defaults().Kafka.Topics
	if want := map[order.Channel]string{"amazon": "orders.amazon", "ebay": "orders.ebay"}; !reflect.DeepEqual(def.Channels, want) {
		t.Errorf("default channel topics %v, want %v", def.Channels, want)
	}
	if got := def.Orders(); !slices.Equal(got, []string{"orders.amazon", "orders.ebay"}) {
		t.Errorf("Orders() = %v", got)
	}
	if got := def.ChannelsByTopic(); !reflect.DeepEqual(got, map[string]order.Channel{"orders.amazon": "amazon", "orders.ebay": "ebay"}) {
		t.Errorf("ChannelsByTopic() = %v", got)
	}
	// Each Defaults() is a map of its own: a change to one is not another's.
	def.Channels["amazon"] = "changed"
	if Defaults().Kafka.Topics.Channels["amazon"] != "orders.amazon" {
		t.Error("Defaults() shares its topic map")
	}

	_, err := Load("testdata/minimal.good.yaml", []string{"ORDERFLOW_KAFKA_TOPICS_EBAY=", "ORDERFLOW_KAFKA_TOPICS_AMAZON=orders.dlq"})
	want := "config: kafka.topics.ebay: must not be empty\n" +
		"kafka.topics.dead_letter: is kafka.topics.amazon's topic too: every channel, dead_letter, courier, accounting, parked and erasure need a topic of their own"
	if err == nil || err.Error() != want {
		t.Errorf("error\n got: %v\nwant: %s", err, want)
	}

	cfg := Defaults()
	cfg.Kafka.Brokers = []string{"127.0.0.1:19092"}
	cfg.Kafka.Topics.Channels["walmart"] = "orders.walmart"
	want = "kafka.topics.walmart: not a channel this worker reads (amazon, ebay) nor dead_letter"
	if err := cfg.Validate(); err == nil || err.Error() != want {
		t.Errorf("error\n got: %v\nwant: %s", err, want)
	}
}

// fullFileRoyalMail is the connector testdata/full.good.yaml declares, as
// Load reads it with fullFileEnv.
func fullFileRoyalMail() Connector {
	var books Accounting
	books.setDefaults()
	return Connector{
		Accounting:    books,
		Kind:          "clickanddrop",
		Purpose:       PurposeDelivery,
		CAFile:        "testdata/tls/ca.pem",
		Endpoint:      "https://api.parcel.royalmail.com/api/v1",
		Credentials:   SecretRef{Env: "TEST_ROYALMAIL_API_KEY", Value: "rm-api-key"},
		Tenants:       []string{"acme", "globex"},
		KeyID:         "1",
		RatePerSecond: 4,
		Burst:         2,
		Notifications: []string{"acme"},
		Parcel:        Parcel{WeightGrams: 750, Format: "smallParcel", TariffCode: "420292"},
		Services:      map[string]string{"Standard": "CRL1", "NextDay": "TPN24"},
	}
}
