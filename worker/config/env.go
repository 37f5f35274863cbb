package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/orderflow/orderflow/worker/channel"
	"github.com/orderflow/orderflow/worker/order"
)

var (
	durationType   = reflect.TypeFor[time.Duration]()
	periodType     = reflect.TypeFor[Period]()
	periodMapType  = reflect.TypeFor[map[string]Period]()
	yearEndType    = reflect.TypeFor[YearEnd]()
	yearEndMapType = reflect.TypeFor[map[string]YearEnd]()
	stringMapType  = reflect.TypeFor[map[string]string]()
	listMapType    = reflect.TypeFor[map[string][]string]()
	// channelMapType is a map inlined in its section whose keys are the
	// registered channels (kafka.topics.amazon): one key per channel.
	channelMapType = reflect.TypeFor[map[order.Channel]string]()
)

// isChannelMap reports whether a struct field is a map of channels inlined in
// its section.
func isChannelMap(f reflect.StructField) bool {
	return f.Type == channelMapType && f.Tag.Get("yaml") == ",inline"
}

// isLeaf reports whether a struct-kinded type is one value rather than a section.
func isLeaf(t reflect.Type) bool { return t == durationType || t == periodType || t == yearEndType }

// Key is one configuration key: its dotted path and its environment variable.
type Key struct {
	Path string // "kafka.batch_max_messages"
	Env  string // "ORDERFLOW_KAFKA_BATCH_MAX_MESSAGES"
}

// Keys lists every key of Config, in declaration order. Each is overridable through
// its Env variable.
func Keys() []Key {
	var keys []Key
	walk(reflect.ValueOf(&Config{}).Elem(), "", func(path string, _ reflect.Value) {
		keys = append(keys, Key{Path: path, Env: EnvName(path)})
	})
	return keys
}

// EnvName is the environment variable that overrides the key at path:
// kafka.topics.amazon is ORDERFLOW_KAFKA_TOPICS_AMAZON.
func EnvName(path string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(path, ".", "_"))
}

// walk calls leaf for every settable leaf field under v, with its dotted yaml path.
func walk(v reflect.Value, prefix string, leaf func(path string, field reflect.Value)) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		fv := v.Field(i)
		if isChannelMap(f) {
			walkChannels(fv, prefix, leaf)
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		path := name
		if prefix != "" {
			path = prefix + "." + name
		}
		if fv.Kind() == reflect.Struct && !isLeaf(fv.Type()) {
			walk(fv, path, leaf)
			continue
		}
		if isSectionMap(fv.Type()) {
			walkSectionMap(fv, path, leaf)
			continue
		}
		leaf(path, fv)
	}
}

// walkChannels calls leaf for each registered channel's entry of m, a channel
// map inlined in the section at prefix. A map's values cannot be set in place,
// so leaf gets a copy, written back when leaf changes it.
func walkChannels(m reflect.Value, prefix string, leaf func(path string, field reflect.Value)) {
	for _, ch := range channel.Default().Names() {
		key := reflect.ValueOf(ch)
		v := reflect.New(m.Type().Elem()).Elem()
		if cur := m.MapIndex(key); cur.IsValid() {
			v.Set(cur)
		}
		before := v.String()
		leaf(prefix+"."+string(ch), v)
		if v.String() != before {
			if m.IsNil() {
				m.Set(reflect.MakeMap(m.Type()))
			}
			m.SetMapIndex(key, v)
		}
	}
}

// applyEnv sets every key whose variable is present in environ. An unparsable
// value is an error naming the key and the variable, never quoting a value that
// might be secret.
func applyEnv(cfg *Config, environ []string) error {
	env := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	var firstErr error
	walk(reflect.ValueOf(cfg).Elem(), "", func(path string, field reflect.Value) {
		raw, ok := env[EnvName(path)]
		if !ok || firstErr != nil {
			return
		}
		if err := setFromString(field, raw); err != nil {
			firstErr = keyErr(path, "from %s: %v", EnvName(path), err)
		}
	})
	return firstErr
}

// envParsers read the config's own value types from a variable; their errors
// already say what was expected.
var envParsers = map[reflect.Type]func(string) (any, error){
	periodType:     parseAny(ParsePeriod),
	periodMapType:  parseAny(parsePeriodMap),
	yearEndType:    parseAny(ParseYearEnd),
	yearEndMapType: parseAny(parseYearEndMap),
	stringMapType:  parseAny(parseStringMap),
	listMapType:    parseAny(parseListMap),
}

func parseAny[T any](parse func(string) (T, error)) func(string) (any, error) {
	return func(raw string) (any, error) { return parse(raw) }
}

func setFromString(field reflect.Value, raw string) error {
	if parse := envParsers[field.Type()]; parse != nil {
		v, err := parse(raw)
		if err != nil {
			return err
		}
		field.Set(reflect.ValueOf(v))
		return nil
	}
	switch {
	case field.Type() == durationType:
		d, err := time.ParseDuration(raw)
		if err != nil {
			return fmt.Errorf("not a duration such as 500ms or 2m")
		}
		field.SetInt(int64(d))
	case field.Kind() == reflect.String:
		field.SetString(raw)
	case field.Kind() == reflect.Int:
		n, err := strconv.Atoi(raw)
		if err != nil {
			return fmt.Errorf("not an integer")
		}
		field.SetInt(int64(n))
	case field.Kind() == reflect.Float64:
		f, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			return fmt.Errorf("not a number")
		}
		field.SetFloat(f)
	case field.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return fmt.Errorf("not true or false")
		}
		field.SetBool(b)
	case field.Kind() == reflect.Slice && field.Type().Elem().Kind() == reflect.String:
		var items []string
		for item := range strings.SplitSeq(raw, ",") {
			if item = strings.TrimSpace(item); item != "" {
				items = append(items, item)
			}
		}
		field.Set(reflect.ValueOf(items))
	default:
		return fmt.Errorf("type %s cannot be set from the environment", field.Type())
	}
	return nil
}
