package transit

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/worker/telemetry/metricsreg"
)

// Operation label values: the transit data operations and the requests that
// manage keys and tokens.
const (
	opHMAC       = "hmac"
	opEncrypt    = "encrypt"
	opDecrypt    = "decrypt"
	opCreateKey  = "create_key"
	opConfigKey  = "configure_key"
	opReadKey    = "read_key"
	opDeleteKey  = "delete_key"
	opLogin      = "login"
	opLookupSelf = "lookup_self"
	opRenewSelf  = "renew_self"
	opRevokeSelf = "revoke_self"
)

// Outcome label values of orderflow_vault_requests_total, one per HTTP attempt.
const (
	outcomeOK          = "ok"          // 2xx, every batch item done
	outcomeItemErrors  = "item_errors" // answered, some batch items failed
	outcomeUnavailable = "unavailable" // 5xx, 429 or a connection error: retried
	outcomeDenied      = "denied"      // 403: permission denied or token invalid
	outcomeRejected    = "rejected"    // other 4xx: never retried
	outcomeCanceled    = "canceled"    // the caller's context ended
	outcomeError       = "error"       // anything else, such as an unreadable answer
)

// Reason label values of orderflow_vault_refused_total.
const (
	refusedOffboarded = "offboarded" // the tenant has been offboarded
	refusedUnsure     = "unsure"     // the gate cannot tell (its list is stale)
)

type metrics struct {
	refused    *prometheus.CounterVec
	requests   *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	batchItems *prometheus.CounterVec
	retries    *prometheus.CounterVec
	cache      *prometheus.CounterVec
	cacheHit   prometheus.Counter
	cacheMiss  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	set := metricsreg.NewSet(reg)
	m := &metrics{
		requests: set.CounterVec("orderflow_vault_requests_total",
			"HTTP requests to Vault, each attempt counted, by operation and outcome (ok, item_errors, unavailable, denied, rejected, canceled, error).",
			"operation", "outcome"),
		duration: set.HistogramVec("orderflow_vault_request_duration_seconds",
			"Duration of one HTTP request to Vault, response read included, by operation.",
			prometheus.ExponentialBuckets(0.0005, 2.5, 12),
			"operation"),
		batchItems: set.CounterVec("orderflow_vault_batch_items_total",
			"Items sent in batch requests to Vault, each attempt counted, by operation; divided by requests it gives the mean batch size.",
			"operation"),
		retries: set.CounterVec("orderflow_vault_retries_total",
			"Failed Vault requests that were tried again, by operation.",
			"operation"),
		refused: set.CounterVec("orderflow_vault_refused_total",
			"Calls and requests for a tenant's data that the gate refused before anything was sent to Vault, by reason (offboarded, unsure: the list of offboarded tenants is stale).",
			"reason"),
		cache: set.CounterVec("orderflow_token_cache_requests_total",
			"Lookups in the in-memory cache of HMAC tokens, by result (hit, miss).",
			"result"),
	}
	if err := set.Err(); err != nil {
		return nil, fmt.Errorf("transit metrics: %w", err)
	}
	m.cacheHit = m.cache.WithLabelValues("hit")
	m.cacheMiss = m.cache.WithLabelValues("miss")
	return m, nil
}
