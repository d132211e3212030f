package version

import "testing"

func TestString(t *testing.T) {
	defer func(v, c string) { Version, Commit = v, c }(Version, Commit)
	for _, tc := range []struct{ version, commit, want string }{
		{"dev", "", "vigild dev"},
		{"v1.2.0", "7609709", "vigild v1.2.0 (7609709)"},
		{"7609709", "7609709", "vigild 7609709"},
		{"7609709-dirty", "7609709", "vigild 7609709-dirty"},
		{"v1.2.0-3-g7609709", "7609709", "vigild v1.2.0-3-g7609709"},
	} {
		Version, Commit = tc.version, tc.commit
		if got := String("vigild"); got != tc.want {
			t.Errorf("Version %q, Commit %q: String = %q, want %q", tc.version, tc.commit, got, tc.want)
		}
	}
}
