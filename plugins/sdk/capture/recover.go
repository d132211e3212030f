package capture

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// Recover seals a segment that a crash left in the active directory. The
// segment is cut back to its last good checkpoint (nothing signed is lost;
// at most what came after it is), a trailer flagged FlagRecovered is signed
// with key, and it is sealed like a normal close: fsync, move into
// sealedDir, fsync of both directories. A segment that already has a good
// trailer (the crash came between trailer and move) is sealed as it is.
//
// It fails with ErrNoCheckpoint when nothing in the file verifies (a crash
// while creating it), leaving the file where it is.
func Recover(activePath string, key ed25519.PrivateKey, sealedDir string) (SealedSegment, error) {
	fail := func(err error) (SealedSegment, error) {
		return SealedSegment{}, fmt.Errorf("capture: recover %s: %w", filepath.Base(activePath), err)
	}
	if len(key) != ed25519.PrivateKeySize {
		return fail(errors.New("key is not an Ed25519 private key"))
	}
	if err := os.MkdirAll(sealedDir, 0o750); err != nil {
		return fail(err)
	}
	f, err := os.OpenFile(activePath, os.O_RDWR, 0)
	if err != nil {
		return fail(err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fail(err)
	}
	pub := key.Public().(ed25519.PublicKey)
	sc := newScanner(f, st.Size(), pub, true, false, nil)
	for {
		if _, err := sc.nextBatch(); err != nil {
			break
		}
	}
	switch {
	case sc.res.status == WrongKey:
		f.Close()
		return fail(fmt.Errorf("signed by key %s, not %s", FormatKeyID(sc.hdr.KeyID), KeyID(pub)))
	case sc.goodCP == 0:
		f.Close()
		return fail(fmt.Errorf("%w: %v", ErrNoCheckpoint, sc.res.err))
	}
	if err := f.Truncate(sc.goodOff); err != nil {
		f.Close()
		return fail(err)
	}
	final := sc.goodChain
	if !sc.trailer {
		frame := recoveryTrailer(sc, key)
		c := newChainer()
		c.h = sc.goodChain
		c.add(frame, nil)
		final = c.h
		if _, err := f.WriteAt(frame, sc.goodOff); err != nil {
			f.Close()
			return fail(err)
		}
	}
	return finishSeal(f, activePath, sealedDir, sc.hdr.Segment, final, !sc.trailer, nil)
}

// recoveryTrailer is a trailer right after the last good checkpoint.
func recoveryTrailer(sc *scanner, key ed25519.PrivateKey) []byte {
	s := seal{headerHash: sc.h0, count: sc.goodRecords, chain: sc.goodChain, offset: sc.goodT, flags: FlagRecovered}
	var msg [sealMessageLen]byte
	sealMessage(&msg, KindTrailer, &s)
	body := append(appendSealFields(nil, KindTrailer, &s), ed25519.Sign(key, msg[:])...)
	frame := binary.AppendUvarint([]byte{byte(KindTrailer)}, uint64(len(body)))
	return append(frame, body...)
}

// RecoverDir recovers every capture segment in activeDir, in order: what
// vigild runs at start, before it records anything. Segments that fail are
// left in place and their errors joined.
func RecoverDir(activeDir string, key ed25519.PrivateKey, sealedDir string) ([]SealedSegment, error) {
	entries, err := os.ReadDir(activeDir)
	if err != nil {
		return nil, fmt.Errorf("capture: recover: %w", err)
	}
	type seg struct {
		base string
		n    int
		name string
	}
	var segs []seg
	for _, e := range entries {
		if base, n, ok := SegmentNumber(e.Name()); ok && e.Type().IsRegular() {
			segs = append(segs, seg{base, n, e.Name()})
		}
	}
	sort.Slice(segs, func(i, j int) bool {
		if segs[i].base != segs[j].base {
			return segs[i].base < segs[j].base
		}
		return segs[i].n < segs[j].n
	})
	var out []SealedSegment
	var errs []error
	for _, s := range segs {
		sealed, err := Recover(filepath.Join(activeDir, s.name), key, sealedDir)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, sealed)
	}
	return out, errors.Join(errs...)
}

// finishSeal makes a segment whose trailer is written durable and moves it
// into sealedDir. The move never replaces another file; finding the same
// bytes already there (a crash after the link) counts as done. sum is the
// file's SHA-256 when the caller hashed what it wrote; nil reads the file.
func finishSeal(f *os.File, activePath, sealedDir string, segment int, final [32]byte, recovered bool, sum []byte) (SealedSegment, error) {
	fail := func(err error) (SealedSegment, error) {
		return SealedSegment{}, fmt.Errorf("capture: seal segment %d: %w", segment, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fail(err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fail(err)
	}
	if sum == nil {
		if sum, err = fileSHA256(f, st.Size()); err != nil {
			f.Close()
			return fail(err)
		}
	}
	if err := f.Close(); err != nil {
		return fail(err)
	}
	dst := filepath.Join(sealedDir, filepath.Base(activePath))
	if err := os.Link(activePath, dst); err != nil {
		if !errors.Is(err, fs.ErrExist) {
			return fail(err)
		}
		other, err := os.Open(dst)
		if err != nil {
			return fail(err)
		}
		ost, err := other.Stat()
		same := err == nil && ost.Size() == st.Size()
		if same {
			osum, err := fileSHA256(other, ost.Size())
			same = err == nil && bytes.Equal(osum, sum)
		}
		other.Close()
		if !same {
			return fail(fmt.Errorf("%s exists with other content: %w", dst, fs.ErrExist))
		}
	}
	if err := os.Remove(activePath); err != nil {
		return fail(err)
	}
	for _, d := range []string{sealedDir, filepath.Dir(activePath)} {
		if err := syncDir(d); err != nil {
			return fail(err)
		}
	}
	return SealedSegment{
		Path:      dst,
		Segment:   segment,
		Size:      st.Size(),
		SHA256:    hex.EncodeToString(sum),
		FinalHash: hex.EncodeToString(final[:]),
		Recovered: recovered,
	}, nil
}

func fileSHA256(f *os.File, size int64) ([]byte, error) {
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, size)); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
