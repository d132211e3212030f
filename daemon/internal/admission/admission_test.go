package admission

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func fixedProbe(free uint64, err error) Probe {
	return func(context.Context, string) (uint64, error) { return free, err }
}

func TestAdmit(t *testing.T) {
	const MB = 1000 * 1000
	errIO := errors.New("statfs: input/output error")
	tests := []struct {
		name       string
		record     bool
		min        uint64
		probe      Probe
		wantErr    error
		wantReason string
		wantMsg    string
	}{
		{name: "recorded, plenty of space", record: true, probe: fixedProbe(10_000*MB, nil)},
		{name: "recorded, exactly the minimum", record: true, probe: fixedProbe(500*MB, nil)},
		{
			name: "recorded, one byte short", record: true, probe: fixedProbe(500*MB-1, nil),
			wantErr: ErrLowDiskSpace, wantReason: ReasonLowDiskSpace,
			wantMsg: "vigil: session refused: free disk space on the recording spool is 499 MB, below the 500 MB minimum; contact your administrator",
		},
		{
			name: "recorded, 312 MB", record: true, probe: fixedProbe(312*MB+123, nil),
			wantErr: ErrLowDiskSpace, wantReason: ReasonLowDiskSpace,
			wantMsg: "vigil: session refused: free disk space on the recording spool is 312 MB, below the 500 MB minimum; contact your administrator",
		},
		{
			name: "custom minimum", record: true, min: 2000 * MB, probe: fixedProbe(1500*MB, nil),
			wantErr: ErrLowDiskSpace, wantReason: ReasonLowDiskSpace,
			wantMsg: "is 1500 MB, below the 2000 MB minimum",
		},
		{
			name: "recorded, probe fails", record: true, probe: fixedProbe(0, errIO),
			wantErr: ErrDiskProbe, wantReason: ReasonDiskProbeFailed,
			wantMsg: "vigil: session refused: the recording spool cannot be checked",
		},
		{name: "unrecorded, no space", record: false, probe: fixedProbe(0, nil)},
		{name: "unrecorded, probe fails", record: false, probe: fixedProbe(0, errIO)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(Config{SpoolDir: "/var/lib/vigil/spool/active", MinFreeBytes: tt.min, Probe: tt.probe})
			if err != nil {
				t.Fatal(err)
			}
			err = c.Admit(context.Background(), tt.record)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Admit = %v, want admitted", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Admit = %v, want %v", err, tt.wantErr)
			}
			var re *RefusedError
			if !errors.As(err, &re) {
				t.Fatalf("Admit error %T is not a *RefusedError", err)
			}
			if re.RefusalReason() != tt.wantReason {
				t.Errorf("reason = %q, want %q", re.RefusalReason(), tt.wantReason)
			}
			if !strings.Contains(re.UserMessage(), tt.wantMsg) {
				t.Errorf("user message = %q, want it to contain %q", re.UserMessage(), tt.wantMsg)
			}
			if strings.Contains(re.UserMessage(), "/var/lib") {
				t.Errorf("user message leaks the spool path: %q", re.UserMessage())
			}
			if !strings.HasPrefix(err.Error(), "admission: ") {
				t.Errorf("error %q lacks the component prefix", err)
			}
			if tt.wantReason == ReasonDiskProbeFailed && !errors.Is(err, errIO) {
				t.Errorf("probe failure not wrapped: %v", err)
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Fatal("New without a spool dir succeeded")
	}
	c, err := New(Config{SpoolDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if c.MinFreeBytes() != DefaultMinFreeBytes {
		t.Errorf("MinFreeBytes = %d, want %d", c.MinFreeBytes(), DefaultMinFreeBytes)
	}
}

// TestRealProbe measures the real filesystem: a threshold above its total
// size refuses, a threshold of one byte admits.
func TestRealProbe(t *testing.T) {
	dir := t.TempDir()
	free, err := DiskFree(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		min     uint64
		refused bool
	}{{1, false}, {free + 1<<40, true}}
	for _, tt := range tests {
		c, err := New(Config{SpoolDir: dir, MinFreeBytes: tt.min})
		if err != nil {
			t.Fatal(err)
		}
		err = c.Admit(context.Background(), true)
		if refused := errors.Is(err, ErrLowDiskSpace); refused != tt.refused {
			t.Errorf("min %d: Admit = %v, refused %v want %v", tt.min, err, refused, tt.refused)
		}
	}
}
