package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/orderflow/orderflow/worker/channel"
	"github.com/orderflow/orderflow/worker/order"
)

// decodeYAML decodes the file key by key, so that every error names the dotted key
// it is about: an unknown key (a typo must not silently leave a default in place), a
// value of the wrong type, or a secret given as a value instead of a reference.
func decodeYAML(data []byte, cfg *Config) error {
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file is all defaults
		}
		return fmt.Errorf("not valid YAML: %w", err)
	}
	if len(doc.Content) == 0 {
		return nil
	}
	var errs []error
	decodeNode(doc.Content[0], reflect.ValueOf(cfg).Elem(), "", &errs)
	return errors.Join(errs...)
}

var secretRefType = reflect.TypeFor[SecretRef]()

func decodeNode(node *yaml.Node, v reflect.Value, path string, errs *[]error) {
	isSection := v.Kind() == reflect.Struct && !isLeaf(v.Type())
	if v.Type() == secretRefType && node.Kind == yaml.ScalarNode && node.Tag != "!!null" {
		*errs = append(*errs, keyErr(path, "line %d: a secret is given by reference ({env: NAME} or {file: PATH}), never as a value", node.Line))
		return
	}
	if isSectionMap(v.Type()) {
		decodeSectionMap(node, v, path, errs)
		return
	}
	if v.Type() == tlsType && node.Kind == yaml.ScalarNode && node.Tag == "!!bool" {
		// The older form, tls: true, is tls.enabled.
		decodeNode(node, v.FieldByName("Enabled"), path+".enabled", errs)
		return
	}
	if !isSection {
		if err := node.Decode(v.Addr().Interface()); err != nil {
			*errs = append(*errs, keyErr(path, "%s", describeYAMLError(err)))
		}
		return
	}
	if node.Kind != yaml.MappingNode {
		if node.Tag == "!!null" {
			return // "section:" with nothing under it keeps the defaults
		}
		*errs = append(*errs, keyErr(orRoot(path), "line %d: expected a mapping of keys", node.Line))
		return
	}
	fields := sectionFields(v)
	for i := 0; i+1 < len(node.Content); i += 2 {
		keyNode, valueNode := node.Content[i], node.Content[i+1]
		childPath := keyNode.Value
		if path != "" {
			childPath = path + "." + keyNode.Value
		}
		field, ok := fields[keyNode.Value]
		switch m := channelMap(v); {
		case ok:
			decodeNode(valueNode, field, childPath, errs)
		case m.IsValid():
			decodeChannel(keyNode, valueNode, m, childPath, errs)
		default:
			hint := ""
			if s, ok := v.Addr().Interface().(knowsKeys); ok {
				hint = s.unknownKey(keyNode.Value, valueNode)
			}
			*errs = append(*errs, keyErr(childPath, "line %d: unknown key%s", keyNode.Line, hint))
		}
	}
}

// channelMap returns the section's inlined map of channels (kafka.topics'), if
// it has one: the keys that are not its fields are channels.
func channelMap(section reflect.Value) reflect.Value {
	for i := range section.NumField() {
		if isChannelMap(section.Type().Field(i)) {
			return section.Field(i)
		}
	}
	return reflect.Value{}
}

// decodeChannel sets one channel's value in m, refusing a key that is not a
// registered channel.
func decodeChannel(keyNode, valueNode *yaml.Node, m reflect.Value, path string, errs *[]error) {
	ch := order.Channel(keyNode.Value)
	if !channel.Default().Has(ch) {
		*errs = append(*errs, unknownChannel(path, fmt.Sprintf("line %d: ", keyNode.Line)))
		return
	}
	v := reflect.New(m.Type().Elem())
	if err := valueNode.Decode(v.Interface()); err != nil {
		*errs = append(*errs, keyErr(path, "%s", describeYAMLError(err)))
		return
	}
	if m.IsNil() {
		m.Set(reflect.MakeMap(m.Type()))
	}
	m.SetMapIndex(reflect.ValueOf(ch), v.Elem())
}

// knowsKeys is a section that can say more about a key it does not have than
// that it is unknown (Retention: a period for a class that is not declared).
type knowsKeys interface {
	unknownKey(key string, value *yaml.Node) string
}

// sectionFields maps a struct's yaml key names to its fields.
func sectionFields(v reflect.Value) map[string]reflect.Value {
	fields := make(map[string]reflect.Value, v.NumField())
	for i := range v.NumField() {
		name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			fields[name] = v.Field(i)
		}
	}
	return fields
}

func describeYAMLError(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return strings.Join(te.Errors, "; ")
	}
	return err.Error()
}

func orRoot(path string) string {
	if path == "" {
		return "(top level)"
	}
	return path
}
