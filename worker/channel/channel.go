// Package channel is the one list of the marketplaces orderflow reads. Each
// channel is one Spec: its name, its payload decoder, its input topic, its value
// in the ClickHouse Enum8 of every table's channel column, the source formats
// its decoder writes and the jurisdictions of its marketplaces. Whatever needs
// the list reads a Registry: the normaliser's decoders, the configuration's
// kafka.topics keys, the protect stage's and the pipeline's metric labels, the
// ClickHouse writer's checks and jurisdictions, the topic tool, the demo and the
// bench; tests hold the migrations and the JSON schemas to it.
//
// Adding a channel is a decoder with fixtures (worker/normalize), one Spec
// (beside amazon.go and ebay.go, listed in Default) and one migration that adds
// its Enum8 value to every channel column. A Registry is immutable and safe for
// concurrent use; tests and extensions make their own with Default().With(...).
package channel

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/orderflow/orderflow/worker/normalize"
	"github.com/orderflow/orderflow/worker/order"
)

// Spec is one channel: everything about it that differs from another channel.
type Spec struct {
	// Name is the channel as every part of orderflow spells it: the envelope's
	// "channel", the canonical order's Channel, the ClickHouse Enum8 element, the
	// "channel" label of metrics and the key under kafka.topics (env
	// ORDERFLOW_KAFKA_TOPICS_<NAME>). NameRule: 1-32 lower-case letters and
	// digits, starting with a letter.
	Name order.Channel
	// Enum is the channel's value in the Enum8 channel column of every table:
	// 1 to 127, never reused (rows written under a value keep it).
	Enum int8
	// Topic is the default name of the channel's input topic (kafka.topics.<name>).
	Topic string
	// Decoder reads the channel's payloads into canonical orders.
	Decoder normalize.Decoder
	// SourceFormats are the order.SourceFormat values Decoder writes, one per
	// payload shape: the source_format enum of schemas/order/v1.schema.json.
	SourceFormats []string
	// Jurisdictions maps each of the channel's marketplace ids to the ISO 3166-1
	// alpha-2 country whose record-keeping rules apply to its financial records
	// (retention is configured per jurisdiction). A marketplace not listed has
	// none, and the default financial retention applies.
	Jurisdictions map[string]string
}

// NameRule says in words what a channel's name must be.
const NameRule = "1-32 lower-case letters and digits, starting with a letter"

// validName: the name is a YAML key beside kafka.topics.dead_letter, part of an
// environment variable's name, an Enum8 element inside quotes and a label value,
// so letters and digits only (no '_', which dead_letter has).
func validName(s string) bool {
	if len(s) == 0 || len(s) > 32 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// topicName is Kafka's rule for topic names (kafka/common/internals/Topic.java):
// 1 to 249 ASCII letters, digits, '.', '_' and '-', and neither "." nor "..".
var topicName = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)

// TopicNameRule says in words what ValidTopic checks.
const TopicNameRule = "a Kafka topic name (1-249 letters, digits, '.', '_' and '-'; not '.' or '..')"

// ValidTopic says whether s is a topic name Kafka accepts.
func ValidTopic(s string) bool { return s != "." && s != ".." && topicName.MatchString(s) }

// Registry is a list of channels, each registered once. Its methods are safe
// for concurrent use; nothing changes it after New.
type Registry struct {
	specs  []Spec // by Enum
	byName map[order.Channel]*Spec
}

// New checks the specs and returns their registry. It refuses a spec without a
// valid name, enum value, topic, decoder or source format, and a name, enum
// value, topic or source format that two specs share: every error is reported.
func New(specs ...Spec) (*Registry, error) {
	r := &Registry{byName: make(map[order.Channel]*Spec, len(specs))}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("channel: "+format, args...)) }
	names := map[order.Channel]bool{}
	enums := map[int8]order.Channel{}
	topics := map[string]order.Channel{}
	formats := map[string]order.Channel{}
	for _, s := range specs {
		s.SourceFormats = slices.Clone(s.SourceFormats)
		s.Jurisdictions = maps.Clone(s.Jurisdictions)
		switch {
		case !validName(string(s.Name)):
			bad("name %q is not %s", s.Name, NameRule)
			continue
		case names[s.Name]:
			bad("%s is registered twice", s.Name)
			continue
		}
		names[s.Name] = true
		if s.Enum < 1 {
			bad("%s: enum value %d is not between 1 and 127", s.Name, s.Enum)
		} else if other, ok := enums[s.Enum]; ok {
			bad("%s: enum value %d is %s's", s.Name, s.Enum, other)
		}
		if !ValidTopic(s.Topic) {
			bad("%s: topic %q is not %s", s.Name, s.Topic, TopicNameRule)
		} else if other, ok := topics[s.Topic]; ok {
			bad("%s: topic %s is %s's", s.Name, s.Topic, other)
		}
		if s.Decoder == nil {
			bad("%s: no decoder", s.Name)
		}
		if len(s.SourceFormats) == 0 {
			bad("%s: no source format", s.Name)
		}
		for _, f := range s.SourceFormats {
			if other, ok := formats[f]; ok || f == "" {
				bad("%s: source format %q is empty or %s's", s.Name, f, other)
			}
			formats[f] = s.Name
		}
		for _, m := range slices.Sorted(maps.Keys(s.Jurisdictions)) {
			if m == "" || !order.ValidCountryCode(s.Jurisdictions[m]) {
				bad("%s: marketplace %q: jurisdiction %q is not %s", s.Name, m, s.Jurisdictions[m], order.CountryCodeRule)
			}
		}
		enums[s.Enum], topics[s.Topic] = s.Name, s.Name
		r.specs = append(r.specs, s)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	slices.SortFunc(r.specs, func(a, b Spec) int { return int(a.Enum) - int(b.Enum) })
	for i := range r.specs {
		r.byName[r.specs[i].Name] = &r.specs[i]
	}
	return r, nil
}

// With returns a new registry of r's channels and specs, refusing any that
// clashes with r's (a name, enum value, topic or source format taken): how a
// test or an extension adds a channel beside the shipped ones. r is unchanged.
func (r *Registry) With(specs ...Spec) (*Registry, error) {
	return New(append(r.Specs(), specs...)...)
}

// Specs returns the channels in Enum order (copies: changing them changes nothing).
func (r *Registry) Specs() []Spec {
	out := make([]Spec, len(r.specs))
	for i, s := range r.specs {
		s.SourceFormats, s.Jurisdictions = slices.Clone(s.SourceFormats), maps.Clone(s.Jurisdictions)
		out[i] = s
	}
	return out
}

// Names returns the channels' names in Enum order.
func (r *Registry) Names() []order.Channel {
	out := make([]order.Channel, len(r.specs))
	for i := range r.specs {
		out[i] = r.specs[i].Name
	}
	return out
}

// Has reports whether name is a registered channel.
func (r *Registry) Has(name order.Channel) bool { return r.byName[name] != nil }

// Lookup returns the channel named name (a copy).
func (r *Registry) Lookup(name order.Channel) (Spec, bool) {
	s := r.byName[name]
	if s == nil {
		return Spec{}, false
	}
	c := *s
	c.SourceFormats, c.Jurisdictions = slices.Clone(c.SourceFormats), maps.Clone(c.Jurisdictions)
	return c, true
}

// Decoders returns each channel's decoder by name: normalize.Config.Decoders.
func (r *Registry) Decoders() map[order.Channel]normalize.Decoder {
	out := make(map[order.Channel]normalize.Decoder, len(r.specs))
	for _, s := range r.specs {
		out[s.Name] = s.Decoder
	}
	return out
}

// Normalizer returns a normaliser of r's channels: cfg, with r's decoders.
func (r *Registry) Normalizer(cfg normalize.Config) (*normalize.Normalizer, error) {
	cfg.Decoders = r.Decoders()
	return normalize.New(cfg)
}

// Topics returns each channel's default input topic by name: kafka.topics' defaults.
func (r *Registry) Topics() map[order.Channel]string {
	out := make(map[order.Channel]string, len(r.specs))
	for _, s := range r.specs {
		out[s.Name] = s.Topic
	}
	return out
}

// SourceFormats returns every channel's source formats, in Enum order.
func (r *Registry) SourceFormats() []string {
	var out []string
	for _, s := range r.specs {
		out = append(out, s.SourceFormats...)
	}
	return out
}

// Jurisdiction returns the ISO 3166-1 alpha-2 country whose record-keeping
// rules apply to the financial records of an order of channel ch on
// marketplace, or "" when the channel does not list the marketplace (the
// default financial retention applies).
func (r *Registry) Jurisdiction(ch order.Channel, marketplace string) string {
	if s := r.byName[ch]; s != nil {
		return s.Jurisdictions[marketplace]
	}
	return ""
}

// Enum8 returns the ClickHouse type of a channel column holding exactly the
// registry's channels, as ClickHouse writes it in system.columns:
// Enum8('amazon' = 1, 'ebay' = 2).
func (r *Registry) Enum8() string {
	var b strings.Builder
	b.WriteString("Enum8(")
	for i, s := range r.specs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("'" + string(s.Name) + "' = " + strconv.Itoa(int(s.Enum)))
	}
	b.WriteString(")")
	return b.String()
}

// CheckEnum8 checks a channel column's ClickHouse type (from system.columns)
// against the registry: every channel must be an element with its own value.
// Elements the registry lacks are allowed, so that a migration adding a channel
// can run before the binary that reads it is deployed.
func (r *Registry) CheckEnum8(columnType string) error {
	elems, err := ParseEnum8(columnType)
	if err != nil {
		return err
	}
	var errs []error
	for _, s := range r.specs {
		switch v, ok := elems[string(s.Name)]; {
		case !ok:
			errs = append(errs, fmt.Errorf("has no channel %s (= %d): run orderflow migrate with the migration that adds it", s.Name, s.Enum))
		case v != s.Enum:
			errs = append(errs, fmt.Errorf("has channel %s = %d where the registry has %d", s.Name, v, s.Enum))
		}
	}
	return errors.Join(errs...)
}

// ParseEnum8 reads a ClickHouse Enum8 type, Enum8('amazon' = 1, 'ebay' = 2),
// into its elements. Element names are read as ClickHouse quotes them, with
// backslash escapes.
func ParseEnum8(typ string) (map[string]int8, error) {
	body, isEnum := strings.CutPrefix(typ, "Enum8(")
	body, closed := strings.CutSuffix(body, ")")
	if !isEnum || !closed {
		return nil, fmt.Errorf("channel column type %q is not an Enum8", typ)
	}
	bad := func() (map[string]int8, error) {
		return nil, fmt.Errorf("channel column type %q is not an Enum8 of 'name' = value elements", typ)
	}
	out := map[string]int8{}
	for rest := body; rest != ""; {
		if rest[0] != '\'' {
			return bad()
		}
		var name strings.Builder
		i := 1
		for ; i < len(rest) && rest[i] != '\''; i++ {
			if rest[i] == '\\' && i+1 < len(rest) {
				i++
			}
			name.WriteByte(rest[i])
		}
		if i == len(rest) {
			return bad()
		}
		value, after, _ := strings.Cut(strings.TrimPrefix(rest[i+1:], " = "), ",")
		v, err := strconv.ParseInt(strings.TrimSpace(value), 10, 8)
		if err != nil {
			return bad()
		}
		out[name.String()] = int8(v)
		rest = strings.TrimLeft(after, " ")
	}
	if len(out) == 0 {
		return bad()
	}
	return out, nil
}

// Default is the registry of the channels orderflow ships with, Amazon and
// eBay: what every constructor uses unless given another.
func Default() *Registry { return defaultRegistry }

var defaultRegistry = func() *Registry {
	r, err := New(amazon, ebay)
	if err != nil {
		panic(err) // a test runs it: a bad shipped spec never builds a binary that starts
	}
	return r
}()
