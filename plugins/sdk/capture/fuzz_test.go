package capture

import (
	"bytes"
	"fmt"
	"testing"
)

// FuzzRead: no input makes the reader panic, loop or allocate beyond what
// the input holds (record lengths are capped, bodies grow as bytes arrive).
func FuzzRead(f *testing.F) {
	tw := newTestWriter(f, func(o *Options) { o.CheckpointBytes = 200 })
	for i := range 12 {
		mustWrite(f, tw.Writer, Output, uint32(i%3), fmt.Appendf(nil, "line %d\r\n", i))
	}
	mustWrite(f, tw.Writer, Resize, 0, AppendResize(nil, Size{Cols: 80, Rows: 24}))
	if err := tw.Close(); err != nil {
		f.Fatal(err)
	}
	good := readFile(f, tw.sealedPaths()[0])
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte(Magic))
	f.Add(append([]byte(Magic), byte(KindHeader), 0xff, 0xff, 0xff, 0x7f))
	f.Add(append([]byte(Magic), byte(Output), 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01))
	pub := pubOf(testKey(1))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, verify := range []bool{true, false} {
			sc := newScanner(bytes.NewReader(data), int64(len(data)), pub, verify, true, nil)
			for range len(data) + 2 {
				recs, err := sc.nextBatch()
				for _, r := range recs {
					if r.p1 < r.p0 || r.p1 > len(sc.arena) {
						t.Fatalf("payload span %d:%d outside the arena (%d)", r.p0, r.p1, len(sc.arena))
					}
				}
				if err != nil {
					break
				}
			}
			if cap(sc.body) > 2*len(data)+64<<10 {
				t.Fatalf("body buffer grew to %d for %d bytes of input", cap(sc.body), len(data))
			}
		}
	})
}
