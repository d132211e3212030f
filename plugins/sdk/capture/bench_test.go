package capture

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// BenchmarkWrite compares the capture writer with a plain buffered file
// write of the same 32 KiB chunks (the "baseline"): what signing, chaining,
// framing and sealing cost on the relay's path. One iteration writes 16
// MiB, so that even `-benchtime 1x` measures something; allocs/record must
// stay 0. Both sides keep at most 64 MiB on disk: the baseline rewinds its
// file, the writer rolls segments and deletes them once sealed.
func BenchmarkWrite(b *testing.B) {
	const keep, perOp = 64 << 20, 16 << 20
	chunk := make([]byte, 32<<10)
	rand.Read(chunk)
	const records = perOp / (32 << 10)
	b.Run("baseline", func(b *testing.B) {
		f, err := os.Create(filepath.Join(b.TempDir(), "plain"))
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		bw := bufio.NewWriterSize(f, bufSize)
		b.SetBytes(perOp)
		written := 0
		allocs := countAllocs(func() {
			for b.Loop() {
				for range records {
					if _, err := bw.Write(chunk); err != nil {
						b.Fatal(err)
					}
				}
				if written += perOp; written >= keep {
					bw.Flush()
					f.Seek(0, io.SeekStart)
					written = 0
				}
			}
		})
		bw.Flush()
		b.ReportMetric(float64(allocs)/float64(b.N*records), "allocs/record")
	})
	b.Run("vigil", func(b *testing.B) {
		tw := newTestWriter(b, func(o *Options) {
			o.SegmentMaxBytes = keep
			o.OnSeal = func(s SealedSegment) { os.Remove(s.Path) }
		})
		b.SetBytes(perOp)
		allocs := countAllocs(func() {
			for b.Loop() {
				for range records {
					if err := tw.Write(Output, 0, chunk); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
		b.StopTimer()
		if err := tw.Close(); err != nil {
			b.Fatal(err)
		}
		// Segment rolls allocate a little (a file, a seal job); records
		// must not.
		b.ReportMetric(float64(allocs)/float64(b.N*records), "allocs/record")
	})
}

func countAllocs(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.Mallocs - before.Mallocs
}

// BenchmarkWriteSmall is the interactive case: short records (a prompt, an
// echoed key), 4096 per iteration, against buffered writes of the same
// bytes.
func BenchmarkWriteSmall(b *testing.B) {
	const records = 4096
	p := []byte("\x1b[32muser@host\x1b[0m:~$ ")
	b.Run("baseline", func(b *testing.B) {
		f, err := os.Create(filepath.Join(b.TempDir(), "plain"))
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		bw := bufio.NewWriterSize(f, bufSize)
		b.SetBytes(records * int64(len(p)))
		for b.Loop() {
			for range records {
				bw.Write(p)
			}
			bw.Flush()
			f.Seek(0, io.SeekStart)
		}
	})
	b.Run("vigil", func(b *testing.B) {
		tw := newTestWriter(b, func(o *Options) { o.OnSeal = func(s SealedSegment) { os.Remove(s.Path) } })
		b.SetBytes(records * int64(len(p)))
		allocs := countAllocs(func() {
			for b.Loop() {
				for range records {
					if err := tw.Write(Output, 0, p); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
		b.StopTimer()
		tw.Close()
		b.ReportMetric(float64(allocs)/float64(b.N*records), "allocs/record")
	})
}

// BenchmarkVerify compares verifying a 64 MiB capture with hashing the
// same file once with SHA-256 (the "baseline").
func BenchmarkVerify(b *testing.B) {
	tw := newTestWriter(b, nil)
	chunk := make([]byte, 32<<10)
	rand.Read(chunk)
	for range 2048 {
		if err := tw.Write(Output, 0, chunk); err != nil {
			b.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		b.Fatal(err)
	}
	path := tw.sealedPaths()[0]
	st, _ := os.Stat(path)
	pub := pubOf(testKey(1))
	b.Run("baseline", func(b *testing.B) {
		b.SetBytes(st.Size())
		for b.Loop() {
			f, err := os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			h := sha256.New()
			io.Copy(h, f)
			f.Close()
		}
	})
	b.Run("vigil", func(b *testing.B) {
		b.SetBytes(st.Size())
		b.ReportAllocs()
		for b.Loop() {
			if res := Verify([]string{path}, pub); res.Status != Intact {
				b.Fatal(res.Describe())
			}
		}
	})
}
