package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// source is one file of settings: its name for messages and the line of
// every key in it.
type source struct {
	name  string
	rank  int
	lines map[string]int
}

// line finds the line of key, or of the nearest table that holds it.
func (s *source) line(key string) int {
	for k := key; k != ""; k = parentKey(k) {
		if l, ok := s.lines[k]; ok {
			return l
		}
	}
	return 0
}

// layer is one file being laid over the configuration.
type layer struct {
	origin Origin
	src    *source
	dir    string // relative paths resolve against it
}

// apply parses data as TOML and lays its values over c. It reports false
// when data is not TOML at all: then nothing was applied.
func (c *Config) apply(is *issues, origin Origin, name, dir string, data []byte) bool {
	var m map[string]any
	rank := len(c.sources)
	if _, err := toml.Decode(string(data), &m); err != nil {
		is.add(syntaxIssue(name, rank, err))
		return false
	}
	src := &source{name: name, rank: rank, lines: keyLines(string(data))}
	if c.sources == nil {
		c.sources = map[Origin]*source{}
	}
	c.sources[origin] = src
	d := &decoder{c: c, l: layer{origin: origin, src: src, dir: dir}, is: is}
	d.table("", m, reflect.ValueOf(c).Elem())
	return true
}

func syntaxIssue(name string, rank int, err error) *Issue {
	is := &Issue{File: name, Msg: err.Error(), Err: ErrSyntax, cause: err, rank: rank}
	var pe toml.ParseError
	if errors.As(err, &pe) {
		is.Line, is.Col, is.Msg = pe.Position.Line, pe.Position.Col, pe.Message
	}
	return is
}

// decoder reads one layer's map into the Config, checking each key against
// the schema and collecting every problem.
type decoder struct {
	c  *Config
	l  layer
	is *issues
}

func (d *decoder) issue(key string, sentinel error, cause error, format string, args ...any) {
	d.is.add(&Issue{
		File: d.l.src.name, Line: d.l.src.line(key), Key: key, Msg: fmt.Sprintf(format, args...),
		Err: sentinel, cause: cause, rank: d.l.src.rank,
	})
}

func (d *decoder) invalid(key, format string, args ...any) {
	d.issue(key, ErrInvalid, nil, format, args...)
}

// table reads m into the struct rv.
func (d *decoder) table(prefix string, m map[string]any, rv reflect.Value) {
	for _, name := range sortedKeys(m) {
		key := joinKey(prefix, quoteKey(name))
		f, ok := fieldNamed(rv.Type(), name)
		if !ok {
			d.issue(key, ErrUnknownKey, nil, "%s", suggest(rv.Type(), prefix, name))
			continue
		}
		if f.fixed && d.l.origin == OriginSettings {
			d.issue(key, ErrNotSettable, nil, "may only be set in the configuration file, not in %s", SettingsFile)
			continue
		}
		d.value(key, f, m[name], rv.Field(f.index))
	}
}

// value reads one key. On any problem the field keeps its previous value
// and origin.
func (d *decoder) value(key string, f fieldInfo, raw any, fv reflect.Value) {
	switch f.kind {
	case kTable:
		sub, ok := raw.(map[string]any)
		if !ok {
			d.invalid(key, "must be a table, got %s", describe(raw))
			return
		}
		d.table(key, sub, fv)
		return
	case kTables:
		d.tables(key, f, raw, fv)
		return
	case kPlugins:
		d.plugins(key, raw, fv)
		return
	}
	v, err := d.leaf(f, raw)
	if err != nil {
		d.invalid(key, "%s", err)
		return
	}
	if f.path {
		if s := v.(string); s != "" && !filepath.IsAbs(s) {
			v = filepath.Join(d.l.dir, s)
		}
	}
	fv.Set(reflect.ValueOf(v).Convert(fv.Type()))
	d.c.origins[key] = d.l.origin
}

// leaf converts a TOML value to the Go value of a scalar or list key.
func (d *decoder) leaf(f fieldInfo, raw any) (any, error) {
	switch f.kind {
	case kString:
		if s, ok := raw.(string); ok {
			return s, nil
		}
		return nil, fmt.Errorf("must be a string, got %s", describe(raw))
	case kBool:
		if b, ok := raw.(bool); ok {
			return b, nil
		}
		return nil, fmt.Errorf("must be true or false, got %s", describe(raw))
	case kInt:
		if n, ok := raw.(int64); ok {
			return int(n), nil
		}
		return nil, fmt.Errorf("must be an integer, got %s", describe(raw))
	case kDuration:
		return readDuration(raw)
	case kSize:
		return readSize(raw)
	case kStrings:
		list, ok := raw.([]any)
		if !ok {
			return nil, fmt.Errorf("must be a list of strings, got %s", describe(raw))
		}
		out := make([]string, 0, len(list))
		for i, e := range list {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("must be a list of strings, item %d is %s", i+1, describe(e))
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported key type")
}

func readDuration(raw any) (time.Duration, error) {
	switch v := raw.(type) {
	case string:
		dur, err := parseDuration(v)
		if err != nil {
			return 0, err
		}
		if dur < 0 {
			return 0, fmt.Errorf("must be >= 0, got %s", v)
		}
		return dur, nil
	case int64:
		if v == 0 {
			return 0, nil
		}
		return 0, fmt.Errorf("must be a duration string like \"30s\", \"15m\" or \"7d\" (a bare number is only allowed for 0), got %d", v)
	}
	return 0, fmt.Errorf("must be a duration string like \"30s\", \"15m\" or \"7d\", got %s", describe(raw))
}

func readSize(raw any) (ByteSize, error) {
	switch v := raw.(type) {
	case string:
		return parseSize(v)
	case int64:
		if v < 0 {
			return 0, fmt.Errorf("must be >= 0, got %d", v)
		}
		return ByteSize(v), nil
	}
	return 0, fmt.Errorf("must be a number of bytes or a size string like \"500MB\", got %s", describe(raw))
}

// tables reads an array of tables. A layer that sets it replaces the whole
// array; each element starts from the element defaults.
func (d *decoder) tables(key string, f fieldInfo, raw any, fv reflect.Value) {
	var elems []map[string]any
	switch v := raw.(type) {
	case []map[string]any:
		elems = v
	case []any:
		for i, e := range v {
			m, ok := e.(map[string]any)
			if !ok {
				d.invalid(indexKey(key, i), "must be a table, got %s", describe(e))
				return
			}
			elems = append(elems, m)
		}
	default:
		d.invalid(key, "must be an array of tables ([[%s]]), got %s", key, describe(raw))
		return
	}
	for k := range d.c.origins {
		if strings.HasPrefix(k, key+"[") {
			delete(d.c.origins, k)
		}
	}
	out := reflect.MakeSlice(f.typ, len(elems), len(elems))
	for i, m := range elems {
		ek := indexKey(key, i)
		el := out.Index(i)
		if f.typ.Elem() == reflect.TypeFor[Sink]() {
			el.Set(reflect.ValueOf(defaultSink()))
		}
		walkStruct(ek, el, func(k string, _ fieldInfo, _ any) { d.c.origins[k] = OriginDefault })
		d.table(ek, m, el)
	}
	fv.Set(out)
}

// plugins merges [plugins.*] tables key by key: a later layer overrides the
// keys it sets and keeps the others.
func (d *decoder) plugins(key string, raw any, fv reflect.Value) {
	m, ok := raw.(map[string]any)
	if !ok {
		d.invalid(key, "must be a table of [plugins.<kind>-<name>] tables, got %s", describe(raw))
		return
	}
	plugins := fv.Interface().(map[string]map[string]any)
	if plugins == nil {
		plugins = map[string]map[string]any{}
		fv.Set(reflect.ValueOf(plugins))
	}
	for _, name := range sortedKeys(m) {
		pk := key + "." + quoteKey(name)
		table, ok := m[name].(map[string]any)
		if !ok {
			d.invalid(pk, "must be a table, got %s", describe(m[name]))
			continue
		}
		if plugins[name] == nil {
			plugins[name] = map[string]any{}
		}
		if len(table) > 0 {
			delete(d.c.origins, pk) // the table is shown by its keys now
		}
		for _, k := range sortedKeys(table) {
			vk := pk + "." + quoteKey(k)
			for old := range d.c.origins {
				if old == vk || strings.HasPrefix(old, vk+".") {
					delete(d.c.origins, old)
				}
			}
			plugins[name][k] = table[k]
			walkFree(pk, map[string]any{k: table[k]}, func(lk string, _ fieldInfo, _ any) { d.c.origins[lk] = d.l.origin })
		}
		if len(table) == 0 {
			d.c.origins[pk] = d.l.origin
		}
	}
}

// describe names a TOML value's type and, for scalars, the value.
func describe(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("string %q", x)
	case int64:
		return fmt.Sprintf("integer %d", x)
	case float64:
		return fmt.Sprintf("float %v", x)
	case bool:
		return fmt.Sprintf("boolean %v", x)
	case time.Time:
		return "datetime " + x.String()
	case []any, []map[string]any:
		return "array"
	case map[string]any:
		return "table"
	}
	return fmt.Sprintf("%T", v)
}

// suggest names the closest known key when an unknown one is a typo.
func suggest(t reflect.Type, prefix, name string) string {
	best, bestD := "", 3
	for _, f := range fieldsOf(t) {
		if dist := levenshtein(name, f.name); dist < bestD {
			best, bestD = f.name, dist
		}
	}
	if best == "" {
		return ""
	}
	return "did you mean " + joinKey(prefix, best) + "?"
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
