package ecosystem

import (
	"bytes"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Marshal renders an ecosystem as YAML that Load accepts: block mappings,
// lists of scalars in flow style ("tags: [official]"), zero values omitted,
// durations as Go durations ("1h30m0s"), times in RFC 3339. The output is a
// function of the value alone, byte for byte.
func Marshal(e *Ecosystem) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(256 * (len(e.Channels) + len(e.Products) + len(e.Institutions) + 8))
	emitStruct(&buf, reflect.ValueOf(*e), 0, false)
	return buf.Bytes(), nil
}

// emitStruct writes a struct's non-zero fields as "key: value" lines at
// indent; firstInline means the first line follows a "- " already written.
func emitStruct(buf *bytes.Buffer, v reflect.Value, indent int, firstInline bool) bool {
	t := v.Type()
	wrote := false
	for i := range t.NumField() {
		name := yamlName(t.Field(i))
		fv := v.Field(i)
		if name == "" || isZero(fv) {
			continue
		}
		if !(firstInline && !wrote) {
			buf.WriteString(strings.Repeat(" ", indent))
		}
		wrote = true
		buf.WriteString(name)
		buf.WriteByte(':')
		emitValue(buf, fv, indent)
	}
	return wrote
}

// emitValue writes a value after "key:", ending the line.
func emitValue(buf *bytes.Buffer, v reflect.Value, indent int) {
	switch {
	case v.Type() == durationType:
		buf.WriteByte(' ')
		buf.WriteString(v.Interface().(time.Duration).String())
	case v.Type() == timeType:
		buf.WriteByte(' ')
		buf.WriteString(v.Interface().(time.Time).Format(time.RFC3339Nano))
	case v.Kind() == reflect.Pointer:
		emitValue(buf, v.Elem(), indent)
		return
	case v.Kind() == reflect.Struct:
		buf.WriteByte('\n')
		emitStruct(buf, v, indent+2, false)
		return
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Struct:
		buf.WriteByte('\n')
		for i := range v.Len() {
			buf.WriteString(strings.Repeat(" ", indent+2))
			buf.WriteString("- ")
			if !emitStruct(buf, v.Index(i), indent+4, true) {
				buf.WriteString("{}\n")
			}
		}
		return
	case v.Kind() == reflect.Slice:
		buf.WriteString(" [")
		for i := range v.Len() {
			if i > 0 {
				buf.WriteString(", ")
			}
			emitScalar(buf, v.Index(i))
		}
		buf.WriteByte(']')
	default:
		buf.WriteByte(' ')
		emitScalar(buf, v)
	}
	buf.WriteByte('\n')
}

func emitScalar(buf *bytes.Buffer, v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		buf.WriteString(yamlString(v.String()))
	case reflect.Bool:
		buf.WriteString(strconv.FormatBool(v.Bool()))
	case reflect.Int, reflect.Int64, reflect.Int32:
		buf.WriteString(strconv.FormatInt(v.Int(), 10))
	case reflect.Float64:
		buf.WriteString(strconv.FormatFloat(v.Float(), 'g', -1, 64))
	default:
		buf.WriteString(strconv.Quote(v.String()))
	}
}

// yamlString writes s plain when that is unambiguous, else double-quoted
// (Go's escapes are a subset of YAML's).
func yamlString(s string) string {
	if isPlain(s) {
		return s
	}
	return strconv.Quote(s)
}

// reservedPlain are plain scalars YAML would read as something other than text.
var reservedPlain = map[string]bool{"true": true, "false": true, "yes": true, "no": true, "on": true, "off": true, "y": true, "n": true, "null": true, "~": true}

func isPlain(s string) bool {
	if s == "" || reservedPlain[strings.ToLower(s)] {
		return false
	}
	c := s[0]
	if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_') {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_-./() ", c) >= 0) {
			return false
		}
	}
	return s[len(s)-1] != ' '

}

func isZero(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Slice:
		return v.Len() == 0
	case reflect.Pointer:
		return v.IsNil()
	}
	return v.IsZero()
}
