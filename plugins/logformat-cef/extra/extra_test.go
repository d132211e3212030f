package extra

import (
	"testing"
	"time"

	"github.com/vigilgw/vigil/plugins/sdk/event"
)

func TestTime(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"1631102854", time.Unix(1631102854, 0), true},
		{"2021-09-08T07:34:22-04:00", time.Date(2021, 9, 8, 11, 34, 22, 0, time.UTC), true},
		{"2021-09-08T11:34:22.5Z", time.Date(2021, 9, 8, 11, 34, 22, 5e8, time.UTC), true},
		{"", time.Time{}, false},
		{"yesterday", time.Time{}, false},
		{"99999999999999999", time.Time{}, false},
	}
	for _, tt := range tests {
		ev := &event.Event{Extra: map[string]string{"start": tt.in}}
		got, ok := Time(ev, "start")
		if ok != tt.ok || !got.Equal(tt.want) {
			t.Errorf("Time(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
	if _, ok := Time(&event.Event{}, "start"); ok {
		t.Error("Time of a missing key is present")
	}
}

func TestSeconds(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"66", 66, true}, {"66.9", 66, true}, {"1m30s", 90, true}, {"1500ms", 1, true},
		{"0", 0, true}, {"-5", 0, false}, {"-1s", 0, false}, {"NaN", 0, false},
		{"1e300", 0, false}, {"soon", 0, false}, {"", 0, false},
	}
	for _, tt := range tests {
		ev := &event.Event{Extra: map[string]string{"duration": tt.in}}
		if got, ok := Seconds(ev, "duration"); got != tt.want || ok != tt.ok {
			t.Errorf("Seconds(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestInt(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"42", 42, true}, {"-3", -3, true}, {"4.2", 0, false}, {"x", 0, false}, {"", 0, false},
	}
	for _, tt := range tests {
		ev := &event.Event{Extra: map[string]string{"bytes": tt.in}}
		if got, ok := Int(ev, "bytes"); got != tt.want || ok != tt.ok {
			t.Errorf("Int(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
