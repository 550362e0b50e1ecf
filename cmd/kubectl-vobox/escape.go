package main

import (
	"reflect"

	"github.com/vobox-operator/vobox-operator/internal/termsafe"
)

// escape makes a string that came from the cluster safe to print on a
// terminal, on one line. Anyone who can write an intervention's spec, its
// status or an Event about it (a host's command output lands in the status)
// could otherwise send the reader's terminal a control sequence: OSC 52
// writes the clipboard, OSC 0 retitles the window, CSI moves the cursor and
// rewrites what was printed. termsafe.StripLine removes every escape
// sequence whole, every C0 and C1 control, DEL and the bidirectional
// overrides, and turns tabs and newlines into spaces; the controller and
// the procedure use the same package.
func escape(s string) string { return termsafe.StripLine(s) }

// unsafeRune reports the runes past ASCII that JSON leaves raw and a
// terminal may act on or that reorder what is shown: the C1 controls
// (U+009B is CSI for a terminal that reads 8-bit controls) and the
// bidirectional embeddings, overrides and isolates.
func unsafeRune(r rune) bool {
	switch {
	case r >= 0x80 && r <= 0x9f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}

// escapeObject escapes, in place, every string an object holds (fields,
// slices, map keys and values, at any depth), so that a printer built on it
// cannot miss one. Pass a pointer to a copy: the object is changed.
func escapeObject(obj any) {
	escapeValue(reflect.ValueOf(obj))
}

func escapeValue(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			escapeValue(v.Elem())
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if f := v.Field(i); f.CanSet() || f.Kind() == reflect.Pointer || f.Kind() == reflect.Slice || f.Kind() == reflect.Map {
				if v.Type().Field(i).IsExported() {
					escapeValue(f)
				}
			}
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			escapeValue(v.Index(i))
		}
	case reflect.Map:
		if v.IsNil() {
			return
		}
		iter := v.MapRange()
		type kv struct{ k, v reflect.Value }
		var entries []kv
		for iter.Next() {
			k := reflect.New(iter.Key().Type()).Elem()
			k.Set(iter.Key())
			val := reflect.New(iter.Value().Type()).Elem()
			val.Set(iter.Value())
			entries = append(entries, kv{k, val})
		}
		for _, e := range entries {
			v.SetMapIndex(e.k, reflect.Value{})
			escapeValue(e.k)
			escapeValue(e.v)
			v.SetMapIndex(e.k, e.v)
		}
	case reflect.String:
		if v.CanSet() {
			v.SetString(escape(v.String()))
		}
	}
}
