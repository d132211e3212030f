package config

import (
	"testing"

	"github.com/BurntSushi/toml"
)

func TestKeyLines(t *testing.T) {
	src := `# comment
team = "a" # trailing
recording.bitrate = 5
"quoted key" = 1
multi = """
fake = 1
[fake]
"""
lit = '''
x = 2'''
arr = [
  1, # fake = 3
  2,
]

[ssh]
listen = "x"
env_allow = ["A",
  "B"]

[log]
inline = [{name = "a"},
  {name = "b", address = "h:1"}]

[[log.sink]]
name = "c"

[[log.sink]]
  name = "d"
  [log.sink.extra]
  deep = { k = 1, nested = { j = 2 } }

[ plugins . "storage-s3" ]
bucket = 'b'
`
	if _, err := toml.Decode(src, new(map[string]any)); err != nil {
		t.Fatalf("the scanner only sees valid TOML, but the test document is not: %v", err)
	}
	want := map[string]int{
		"team":                            2,
		"recording":                       3,
		"recording.bitrate":               3,
		`"quoted key"`:                    4,
		"multi":                           5,
		"lit":                             9,
		"arr":                             11,
		"ssh":                             16,
		"ssh.listen":                      17,
		"ssh.env_allow[1]":                19,
		"log":                             21,
		"log.inline[0].name":              22,
		"log.inline[1]":                   23,
		"log.inline[1].address":           23,
		"log.inline[0]":                   22,
		"log.sink[0]":                     25,
		"log.sink[0].name":                26,
		"log.sink[1].name":                29,
		"log.sink[1].extra":               30,
		"log.sink[1].extra.deep.k":        31,
		"log.sink[1].extra.deep.nested.j": 31,
		"plugins.storage-s3":              33,
		"plugins.storage-s3.bucket":       34,
	}
	got := keyLines(src)
	for k, line := range want {
		if got[k] != line {
			t.Errorf("line of %q = %d, want %d", k, got[k], line)
		}
	}
	for _, k := range []string{"fake", "x"} {
		if _, ok := got[k]; ok {
			t.Errorf("key %q inside a string or comment was recorded", k)
		}
	}
	src2 := &source{lines: got}
	if l := src2.line("log.sink[1].extra.deep.nested.missing"); l != 31 {
		t.Errorf("fallback line = %d, want 31", l)
	}
	if l := src2.line("nothing.here"); l != 0 {
		t.Errorf("unknown key line = %d, want 0", l)
	}
}

func FuzzKeyLines(f *testing.F) {
	for _, s := range []string{
		"a = 1\n[b]\nc = [1, {d = 2}]\n",
		"[[x]]\n[[x]]\n[x.y]\nz = '''\n'''",
		`k = """\""""`,
		"[", "[[", "a = [", "a = {", `"`, "'''", "a.b.c = {d.e = [[[[1]]]]}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for k, line := range keyLines(s) {
			if line < 1 || line > len(s)+1 {
				t.Fatalf("key %q at line %d of a %d-byte input", k, line, len(s))
			}
		}
	})
}
