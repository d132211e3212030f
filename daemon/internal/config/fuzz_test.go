package config

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// FuzzLoad feeds arbitrary bytes as the configuration file and as
// settings.toml. Load must never panic; every error must be a
// component-prefixed message; a configuration it accepts must show
// without panicking and pass CheckAndSetDefaults again unchanged.
func FuzzLoad(f *testing.F) {
	if src, err := os.ReadFile(etcFile); err == nil {
		f.Add(src, []byte(""))
		full, _ := uncomment(string(src), "/var/lib/vigil")
		f.Add([]byte(full), []byte("[recording]\nbitrate = 5\n"))
	}
	seeds := []string{
		"",
		"[recording]\nqueue_length = -3\n",
		"[wui]\nlisen = 1\n",
		"state_dir = \"s\"\n[ssh]\nlisten = \"[::1]:22\"\nenv_allow = [\"A*\"]\n",
		"[[log.sink]]\nname = \"a\"\ntype = \"syslog\"\naddress = \"h:1\"\ntransport = \"udp\"\nrfc = 3164\n",
		"[log]\nsink = [{name = \"a\", type = \"file\"}, 5]\n",
		"[plugins.storage-s3]\nx = {y = [1, 2.5, nan]}\n",
		"[plugins.storage-s3]\n[plugins.storage-local.a.b]\n",
		"[recording]\nupload_location = \"s3://b@http://h:1/{session_id}/{segment}.{ext}\"\nallow_http = true\nmin_free_bytes = \"1.5GiB\"\n",
		"recording = []\n",
		"[ssh\n",
		"\"\" = \"\"\n[\"a.b\"]\n\"c d\" = 1\n",
		"a = \"\"\"\n\"\"\"\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s), []byte("state_dir = \"/x\"\n[control]\nsocket = 1\n"))
	}
	f.Fuzz(func(t *testing.T, data, settings []byte) {
		if settings == nil {
			settings = []byte{} // never read a settings.toml from disk
		}
		c, err := build("fuzz/vigil.toml", data, settings)
		if err != nil {
			var list Errors
			if !errors.As(err, &list) {
				if !strings.HasPrefix(err.Error(), "config: ") {
					t.Fatalf("error without prefix: %v", err)
				}
				return
			}
			for _, is := range list {
				if !strings.HasPrefix(is.Error(), "config: ") || is.Err == nil || is.File == "" {
					t.Fatalf("malformed issue %+v", is)
				}
				if is.Err != ErrSyntax && is.Key == "" {
					t.Fatalf("issue names no key: %v", is)
				}
			}
			return
		}
		shown := Show(c)
		for _, e := range shown {
			if _, ok := c.origins[e.Key]; !ok {
				t.Fatalf("%s has no origin", e.Key)
			}
		}
		if len(shown) != len(c.origins) {
			t.Fatalf("Show lists %d keys, origins %d", len(shown), len(c.origins))
		}
		c.PluginConfigJSON()
		if err := c.CheckAndSetDefaults(); err != nil {
			t.Fatalf("accepted configuration fails a second check: %v", err)
		}
	})
}
