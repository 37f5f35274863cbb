package config

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// A connector the file declares takes its defaults, has an environment
// variable for each of its keys, resolves its credentials by reference and
// never shows them.
func TestConnectorsFromFileAndEnvironment(t *testing.T) {
	cfg, err := Load("testdata/full.good.yaml", append([]string{
		"ORDERFLOW_CONNECTORS_ROYALMAIL_ENDPOINT=http://127.0.0.1:8080/api/v1",
		// The file's list names no loopback host.
		"ORDERFLOW_EGRESS_ALLOWED_HOSTS=127.0.0.1, api.xero.com, identity.xero.com",
		"ORDERFLOW_CONNECTORS_ROYALMAIL_SERVICES=Standard=CRL2, Expedited=TPN24",
		"ORDERFLOW_CONNECTORS_ROYALMAIL_NOTIFICATIONS=acme,beta",
		"ORDERFLOW_CONNECTORS_ROYALMAIL_PARCEL_WEIGHT_GRAMS=1200",
		"ORDERFLOW_CONNECTORS_ROYALMAIL_RATE_PER_SECOND=2.5",
		"ORDERFLOW_CONNECTORS_ROYALMAIL_TIMEOUT=4s",
	}, fullFileEnv...))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	rm := cfg.Connectors["royalmail"]
	// The file's connector, but for what the environment sets.
	want := fullFileRoyalMail()
	want.Endpoint = "http://127.0.0.1:8080/api/v1"
	want.RatePerSecond = 2.5
	want.Timeout = 4 * time.Second
	want.Notifications = []string{"acme", "beta"}
	want.Parcel.WeightGrams = 1200
	want.Services = map[string]string{"Standard": "CRL2", "Expedited": "TPN24"}
	if diff := cmp.Diff(want, rm); diff != "" {
		t.Errorf("connector (-want +got):\n%s", diff)
	}
	if perSecond, burst := rm.Rate(); perSecond != 2.5 || burst != 2 {
		t.Errorf("Rate() = %v, %d; want the environment's 2.5 a second and the file's burst 2", perSecond, burst)
	}
	if perSecond, burst := (Connector{Kind: "clickanddrop"}).Rate(); perSecond != 5 || burst != 1 {
		t.Errorf("Rate() = %v, %d; want Click & Drop's documented 5 a second, burst 1", perSecond, burst)
	}
	if !rm.NotificationsOn("beta") || rm.NotificationsOn("gamma") || rm.Service("Expedited") != "TPN24" || rm.Service("NextDay") != "" {
		t.Errorf("NotificationsOn/Service disagree with the configuration")
	}
	for _, dump := range []string{fmt.Sprint(cfg), fmt.Sprintf("%#v", cfg), mustJSON(t, cfg)} {
		if strings.Contains(dump, "rm-api-key") {
			t.Errorf("a dump of the config shows a connector's credentials")
		}
	}

	// Defaults: an entry that says nothing of its parcel's format gets one.
	cfg, err = Load("", []string{"ORDERFLOW_KAFKA_BROKERS=127.0.0.1:19092"})
	if err != nil || len(cfg.Connectors) != 0 {
		t.Fatalf("no connectors by default: %v, %v", cfg.Connectors, err)
	}
	var c Connector
	c.setDefaults()
	if c.Parcel.Format != "parcel" {
		t.Errorf("default parcel format %q", c.Parcel.Format)
	}
}

// Every declared kind has a declared purpose: the table cannot give a kind
// a purpose the configuration would refuse.
func TestConnectorKindsHaveADeclaredPurpose(t *testing.T) {
	for _, k := range ConnectorKinds() {
		if !reflect.DeepEqual(k, mustKind(t, k.Name)) || (k.Purpose != PurposeDelivery && k.Purpose != PurposeAccounting) {
			t.Errorf("kind %s: purpose %q", k.Name, k.Purpose)
		}
	}
}

func mustKind(t *testing.T, name string) ConnectorKind {
	t.Helper()
	k, err := LookupConnectorKind(name)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
