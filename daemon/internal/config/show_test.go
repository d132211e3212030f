package config

import "testing"

func TestShowMasksSecrets(t *testing.T) {
	body := `[wui]
tls_cert = "/etc/vigil/wui.pem"
tls_key = "/etc/vigil/wui.key"
[recording]
upload_location = "s3://rec@minio.lan:9000/{session_id}/{segment}.{ext}"
storage_key = "AKIAEXAMPLE"
storage_secret = "wJalrXUtnFEMI"
[plugins.storage-s3]
secret_access_key = "s3cr3t"
api_token = "tok"
admin_password = "pw"
access_key = "AKIA2"
tls_key = "/etc/vigil/s3.key"
region = "eu-west-1"
empty_secret = ""
`
	path, _ := writeConfig(t, body)
	c, _ := mustLoad(t, path)
	want := map[string]string{
		"recording.storage_key":                `********`,
		"recording.storage_secret":             `********`,
		"wui.tls_key":                          `"/etc/vigil/wui.key"`,
		"wui.tls_cert":                         `"/etc/vigil/wui.pem"`,
		"vnc.tls_key":                          `""`,
		"plugins.storage-s3.secret_access_key": `********`,
		"plugins.storage-s3.api_token":         `********`,
		"plugins.storage-s3.admin_password":    `********`,
		"plugins.storage-s3.access_key":        `********`,
		"plugins.storage-s3.tls_key":           `"/etc/vigil/s3.key"`,
		"plugins.storage-s3.region":            `"eu-west-1"`,
		"plugins.storage-s3.empty_secret":      `""`,
	}
	got := map[string]string{}
	for _, e := range Show(c) {
		got[e.Key] = e.Value
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %s, want %s", k, got[k], v)
		}
	}
	// Unset secrets show as empty, so an operator sees they are missing.
	c2 := Default()
	c2.StateDir = t.TempDir()
	if err := c2.CheckAndSetDefaults(); err != nil {
		t.Fatal(err)
	}
	for _, e := range Show(c2) {
		if e.Key == "recording.storage_secret" && e.Value != `""` {
			t.Errorf("unset secret shown as %s", e.Value)
		}
	}
}

func TestLiteral(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{"a\"b\\c\n\x01", `"a\"b\\c\n\u0001"`},
		{int64(-3), "-3"},
		{2.0, "2.0"},
		{1.5, "1.5"},
		{[]any{int64(1), "x"}, `[1, "x"]`},
		{map[string]any{"b": true, "a key": int64(1)}, `{"a key" = 1, b = true}`},
		{[]string{}, `[]`},
	}
	for _, tt := range tests {
		if got := literal(tt.in); got != tt.want {
			t.Errorf("literal(%#v) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
