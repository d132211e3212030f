package config

import (
	"fmt"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"
)

// kind is how a key's value is read and shown.
type kind int

const (
	kString kind = iota
	kBool
	kInt
	kDuration
	kSize
	kStrings
	kTable   // a struct: [table]
	kTables  // a slice of structs: [[array.of.tables]]
	kPlugins // map of free tables: [plugins.<kind>-<name>]
	kAny     // a value inside a plugin table
)

// fieldInfo describes one key of the schema.
type fieldInfo struct {
	name   string // the TOML key
	index  int    // struct field index
	typ    reflect.Type
	kind   kind
	path   bool // relative values resolve against the setting file's directory
	secret bool // Show masks it
	fixed  bool // settings.toml may not set it
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	sizeType     = reflect.TypeFor[ByteSize]()
	pluginsType  = reflect.TypeFor[map[string]map[string]any]()
	configType   = reflect.TypeFor[Config]()
)

func kindOf(t reflect.Type) kind {
	switch {
	case t == durationType:
		return kDuration
	case t == sizeType:
		return kSize
	case t == pluginsType:
		return kPlugins
	}
	switch t.Kind() {
	case reflect.String:
		return kString
	case reflect.Bool:
		return kBool
	case reflect.Int:
		return kInt
	case reflect.Struct:
		return kTable
	case reflect.Slice:
		if t.Elem().Kind() == reflect.String {
			return kStrings
		}
		if t.Elem().Kind() == reflect.Struct {
			return kTables
		}
	}
	panic(fmt.Sprintf("config: schema: unsupported field type %s", t))
}

var fieldCache sync.Map // reflect.Type -> []fieldInfo

// fieldsOf lists the keys of a table type, in declaration order.
func fieldsOf(t reflect.Type) []fieldInfo {
	if v, ok := fieldCache.Load(t); ok {
		return v.([]fieldInfo)
	}
	var out []fieldInfo
	for i := range t.NumField() {
		sf := t.Field(i)
		name := sf.Tag.Get("toml")
		if !sf.IsExported() || name == "" || name == "-" {
			continue
		}
		f := fieldInfo{name: name, index: i, typ: sf.Type, kind: kindOf(sf.Type)}
		for opt := range strings.SplitSeq(sf.Tag.Get("vigil"), ",") {
			switch opt {
			case "path":
				f.path = true
			case "secret":
				f.secret = true
			case "fixed":
				f.fixed = true
			}
		}
		out = append(out, f)
	}
	fieldCache.Store(t, out)
	return out
}

func fieldNamed(t reflect.Type, name string) (fieldInfo, bool) {
	for _, f := range fieldsOf(t) {
		if f.name == name {
			return f, true
		}
	}
	return fieldInfo{}, false
}

// lookupKey finds the schema entry for a dotted key. Keys inside plugin
// tables are free; log.sink is only addressable as a whole.
func lookupKey(key string) (fieldInfo, bool) {
	segs := strings.Split(key, ".")
	t := configType
	for i, seg := range segs {
		f, ok := fieldNamed(t, seg)
		if !ok {
			return fieldInfo{}, false
		}
		last := i == len(segs)-1
		switch {
		case last:
			return f, true
		case f.kind == kTable:
			t = f.typ
		case f.kind == kPlugins:
			name := segs[len(segs)-1]
			return fieldInfo{name: name, kind: kAny, secret: secretName(name)}, true
		default:
			return fieldInfo{}, false
		}
	}
	return fieldInfo{}, false
}

// walk calls fn for every leaf key of c in schema order: sinks by index,
// plugin tables by name and then key.
func walk(c *Config, fn func(key string, f fieldInfo, v any)) {
	walkStruct("", reflect.ValueOf(c).Elem(), fn)
}

func walkStruct(prefix string, v reflect.Value, fn func(string, fieldInfo, any)) {
	for _, f := range fieldsOf(v.Type()) {
		key := joinKey(prefix, f.name)
		fv := v.Field(f.index)
		switch f.kind {
		case kTable:
			walkStruct(key, fv, fn)
		case kTables:
			for i := range fv.Len() {
				walkStruct(indexKey(key, i), fv.Index(i), fn)
			}
		case kPlugins:
			plugins := fv.Interface().(map[string]map[string]any)
			for _, name := range sortedKeys(plugins) {
				if len(plugins[name]) == 0 {
					fn(key+"."+quoteKey(name), fieldInfo{name: name, kind: kAny}, map[string]any{})
					continue
				}
				walkFree(key+"."+quoteKey(name), plugins[name], fn)
			}
		default:
			fn(key, f, fv.Interface())
		}
	}
}

// walkFree visits the leaves of a free table; an empty table is a leaf.
func walkFree(prefix string, m map[string]any, fn func(string, fieldInfo, any)) {
	for _, k := range sortedKeys(m) {
		key := prefix + "." + quoteKey(k)
		if sub, ok := m[k].(map[string]any); ok && len(sub) > 0 {
			walkFree(key, sub, fn)
			continue
		}
		fn(key, fieldInfo{name: k, kind: kAny, secret: secretName(k)}, m[k])
	}
}

// secretName tells, for keys of plugin tables, which names hold secrets:
// passwords, tokens, secrets and keys that are not files.
func secretName(name string) bool {
	n := strings.ToLower(name)
	for _, s := range []string{"secret", "password", "passwd", "passphrase", "token", "credential"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	if !strings.HasSuffix(n, "key") {
		return false
	}
	for _, file := range []string{"tls_key", "host_key", "key_file", "key_path"} {
		if strings.HasSuffix(n, file) {
			return false
		}
	}
	return true
}

// joinKey appends a key segment; segments that are not bare TOML keys
// arrive quoted (quoteKey), as they must be written in the file.
func joinKey(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

func indexKey(key string, i int) string { return fmt.Sprintf("%s[%d]", key, i) }

// parentKey strips the last ".name" or "[i]" of a key.
func parentKey(key string) string {
	if strings.HasSuffix(key, "]") {
		if i := strings.LastIndexByte(key, '['); i >= 0 {
			return key[:i]
		}
	}
	if i := strings.LastIndexByte(key, '.'); i >= 0 {
		return key[:i]
	}
	return ""
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func joinPath(dir, name string) string { return filepath.Join(dir, name) }
