package cefspec

import "testing"

func TestValidKeyName(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"suser", true}, {"cs1Label", true}, {"vigilBytesIn", true}, {"", false},
		{"a b", false}, {"a=b", false}, {"a_b", false}, {"ké", false}, {"a\n", false},
	}
	for _, tt := range tests {
		if got := ValidKeyName(tt.name); got != tt.want {
			t.Errorf("ValidKeyName(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestMaxLen(t *testing.T) {
	tests := []struct {
		key  string
		want int
	}{
		{"act", 63}, {"dvchost", 100}, {"msg", 1023}, {"cs6", 4000}, {"externalId", 40},
		{"spt", MaxCustomLen}, {"vigilCustom", MaxCustomLen},
	}
	for _, tt := range tests {
		if got := MaxLen(tt.key); got != tt.want {
			t.Errorf("MaxLen(%q) = %d, want %d", tt.key, got, tt.want)
		}
	}
	for name, k := range dictionary {
		if name != k.Name || !ValidKeyName(name) || k.FullName == "" {
			t.Errorf("bad dictionary entry %q: %+v", name, k)
		}
		if k.Type == String && k.MaxLen < MinMaxLen {
			t.Errorf("%s: limit %d is below MinMaxLen", name, k.MaxLen)
		}
		if (k.Type == String) != (k.MaxLen > 0) {
			t.Errorf("%s: only String keys have a length limit", name)
		}
	}
}
