package protect

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/protected"
)

// Reflection over the canonical and protected orders, for the tests that check
// the stage against every field there is rather than the fields someone
// remembered. Exported here for the external tests (package protect_test).

var (
	orderPkg     = reflect.TypeFor[order.Order]().PkgPath()
	protectedPkg = reflect.TypeFor[protected.Order]().PkgPath()
	leafTypes    = []reflect.Type{reflect.TypeFor[order.Money](), reflect.TypeFor[protected.Token](), reflect.TypeFor[protected.Ciphertext]()}
)

// WalkLeaves calls visit for every leaf value of v (an order.Order or a
// protected.Order) with its path as the policy names it: JSON names joined by
// dots, a slice's elements under the slice's name ("lines.sku"), order.Money,
// Token and Ciphertext as leaves. Nil pointers have no leaves.
func WalkLeaves(v any, visit func(path string, leaf reflect.Value)) {
	walk(reflect.ValueOf(v), "", visit)
}

func walk(v reflect.Value, path string, visit func(string, reflect.Value)) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			walk(v.Elem(), path, visit)
		}
		return
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Struct {
			for i := range v.Len() {
				walk(v.Index(i), path, visit)
			}
			return
		}
	case reflect.Struct:
		t := v.Type()
		if (t.PkgPath() == orderPkg || t.PkgPath() == protectedPkg) && !isLeafType(t) {
			for i := range t.NumField() {
				f := t.Field(i)
				name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
				walk(v.Field(i), joinPath(path, name), visit)
			}
			return
		}
	}
	visit(path, v)
}

func isLeafType(t reflect.Type) bool {
	for _, l := range leafTypes {
		if t == l {
			return true
		}
	}
	return false
}

func joinPath(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// LeafPaths lists the leaf paths of the type of v, as WalkLeaves names them,
// whether or not v has values there.
func LeafPaths(typ reflect.Type) []string {
	var out []string
	var rec func(t reflect.Type, path string)
	rec = func(t reflect.Type, path string) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct {
			t = t.Elem()
		}
		if t.Kind() == reflect.Struct && (t.PkgPath() == orderPkg || t.PkgPath() == protectedPkg) && !isLeafType(t) {
			for i := range t.NumField() {
				f := t.Field(i)
				name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
				rec(f.Type, joinPath(path, name))
			}
			return
		}
		out = append(out, path)
	}
	rec(typ, "")
	return out
}

// Fill sets every field of o, at any depth: each string (enums and currency
// codes included) to str(path), where path is the policy path of the field (a
// Money's currency is the Money's path); numbers, booleans, times and amounts
// to distinct non-zero values. Pointers are allocated and slices get two
// elements, so that every field exists twice where it can.
func Fill(o *order.Order, str func(path string) string) {
	n := 0
	fill(reflect.ValueOf(o).Elem(), "", str, &n)
}

func fill(v reflect.Value, path string, str func(string) string, n *int) {
	*n++
	switch v.Kind() {
	case reflect.String:
		v.SetString(str(path))
	case reflect.Int:
		v.SetInt(int64(*n))
	case reflect.Int64: // order.Amount
		v.SetInt(int64(*n) * 1234)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), path, str, n)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := range 2 {
			fill(v.Index(i), path, str, n)
		}
	case reflect.Struct:
		t := v.Type()
		if t == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Date(2026, 11, 1, 0, 0, *n, 0, time.UTC)))
			return
		}
		if t.PkgPath() != orderPkg {
			panic(fmt.Sprintf("Fill: %s at %s: teach Fill this type", t, path))
		}
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			p := path
			if t != reflect.TypeFor[order.Money]() {
				p = joinPath(path, name)
			}
			fill(v.Field(i), p, str, n)
		}
	default:
		panic(fmt.Sprintf("Fill: %s at %s: teach Fill this kind", v.Kind(), path))
	}
}

// Strings calls visit for every string of v at any depth (Money's currency
// under the Money's path, []string elements under the slice's path).
func Strings(v any, visit func(path, s string)) {
	WalkLeaves(v, func(path string, leaf reflect.Value) {
		switch {
		case leaf.Kind() == reflect.String:
			visit(path, leaf.String())
		case leaf.Type() == reflect.TypeFor[order.Money]():
			visit(path, leaf.Interface().(order.Money).Currency)
		case leaf.Kind() == reflect.Slice && leaf.Type().Elem().Kind() == reflect.String:
			for i := range leaf.Len() {
				visit(path, leaf.Index(i).String())
			}
		}
	})
}
