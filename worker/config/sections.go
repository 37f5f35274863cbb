package config

import (
	"reflect"

	"go.yaml.in/yaml/v3"
)

// A map of named sections (connectors.<name>) holds entries the file names:
// each entry is decoded as a section of its own, so that an unknown key or a
// secret given as a value is refused naming connectors.<name>.<key>, and
// each key of an entry the file declares has an environment variable.

// isSectionMap reports whether t is a map from names to sections.
func isSectionMap(t reflect.Type) bool {
	return t.Kind() == reflect.Map && t.Key().Kind() == reflect.String &&
		t.Elem().Kind() == reflect.Struct && !isLeaf(t.Elem())
}

// hasDefaults is an entry of a section map that fills in its own defaults
// before the file's keys are decoded into it.
type hasDefaults interface{ setDefaults() }

// decodeSectionMap decodes each entry of the mapping node into m, as the
// section at path.<name>.
func decodeSectionMap(node *yaml.Node, m reflect.Value, path string, errs *[]error) {
	if node.Kind != yaml.MappingNode {
		if node.Tag != "!!null" {
			*errs = append(*errs, keyErr(path, "line %d: expected a mapping of names to sections", node.Line))
		}
		return
	}
	if m.IsNil() {
		m.Set(reflect.MakeMap(m.Type()))
	}
	for i := 0; i+1 < len(node.Content); i += 2 {
		name := node.Content[i].Value
		entry := reflect.New(m.Type().Elem())
		if d, ok := entry.Interface().(hasDefaults); ok {
			d.setDefaults()
		}
		decodeNode(node.Content[i+1], entry.Elem(), path+"."+name, errs)
		m.SetMapIndex(reflect.ValueOf(name).Convert(m.Type().Key()), entry.Elem())
	}
}

// walkSectionMap calls leaf for every leaf of every entry of m, the section
// map at prefix; each entry is walked in a copy, written back.
func walkSectionMap(m reflect.Value, prefix string, leaf func(path string, field reflect.Value)) {
	iter := m.MapRange()
	for iter.Next() {
		entry := reflect.New(m.Type().Elem()).Elem()
		entry.Set(iter.Value())
		walk(entry, prefix+"."+iter.Key().String(), leaf)
		m.SetMapIndex(iter.Key(), entry)
	}
}
