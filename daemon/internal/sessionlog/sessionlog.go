package sessionlog

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/vigilgw/vigil/daemon/internal/cli"
	"github.com/vigilgw/vigil/plugins/sdk/capture"
	"github.com/vigilgw/vigil/plugins/sdk/termrender"
)

// Exit codes of `vigilctl session-logs`, carried by *cli.ExitError. 2 is
// the command line's own (usage).
const (
	ExitOK         = 0
	ExitError      = 1 // a file could not be read or written
	ExitAltered    = 3
	ExitTruncated  = 4
	ExitWrongKey   = 5
	ExitNotCapture = 6 // an --insecure read found no capture at all
)

// ErrNotVerified: export or cat refused a capture that does not verify
// (the error also wraps the *capture.VerifyError that says why).
var ErrNotVerified = errors.New("does not verify (use --insecure to read it anyway)")

// exitCode maps a verdict to its exit code.
func exitCode(s capture.Status) int {
	switch s {
	case capture.Intact:
		return ExitOK
	case capture.Altered:
		return ExitAltered
	case capture.Truncated:
		return ExitTruncated
	case capture.WrongKey:
		return ExitWrongKey
	}
	return ExitError
}

// LoadPublicKey reads a --pubkey FILE: the PEM block `vigilctl keys export`
// prints ("VIGIL ED25519 PUBLIC KEY").
func LoadPublicKey(path string) (ed25519.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, cli.Exit(ExitError, fmt.Errorf("session-logs: %w", err))
	}
	pub, err := capture.ParsePublicKey(b)
	if err != nil {
		return nil, cli.Exit(ExitError, fmt.Errorf("session-logs: %s: %w", path, err))
	}
	return pub, nil
}

// Verify checks each FILE and prints one line per FILE to out:
//
//	FILE: verified (N records, M segments)
//	FILE: altered at record R (offset O): why
//	FILE: truncated after checkpoint C (R records verified)
//	FILE: truncated: segment S is missing (R records verified)
//	FILE: signed by key X, expected Y
//	FILE: unreadable: ...
//
// A FILE naming a session's segment 0 ("<base>.vsl") is verified with its
// later segments beside it ("<base>.0001.vsl", ...), each following the one
// before; a later segment is verified alone. When a problem lies in a later
// segment, its line names that segment's file. Record numbers count every
// record of a segment from its header (record 0), checkpoints included.
//
// The error, if any file fails, carries the exit code of the first failure.
func Verify(files []string, pub ed25519.PublicKey, out io.Writer) error {
	if len(pub) != ed25519.PublicKeySize {
		return cli.Exit(ExitError, fmt.Errorf("session-logs: verify: %w", capture.ErrBadPublicKey))
	}
	code, failed := ExitOK, 0
	for _, file := range files {
		res := capture.VerifyFile(file, pub)
		name := res.Path
		if name == "" {
			name = file
		}
		desc := res.Describe()
		if res.Status == capture.Altered && res.Err != nil {
			// Which record is not enough: say what is wrong with it
			// (random bytes are "not a capture file").
			desc += ": " + res.Err.Error()
		}
		if _, err := fmt.Fprintf(out, "%s: %s\n", name, desc); err != nil {
			return cli.Exit(ExitError, fmt.Errorf("session-logs: %w", err))
		}
		if res.Status != capture.Intact {
			failed++
			if code == ExitOK {
				code = exitCode(res.Status)
			}
		}
	}
	if failed > 0 {
		return cli.Exit(code, fmt.Errorf("session-logs: %d of %d files did not verify", failed, len(files)))
	}
	return nil
}

// verified checks the session FILE names before anything is read for
// output: export and cat never print part of a capture and then fail.
func verified(file string, pub ed25519.PublicKey) error {
	res := capture.VerifyFile(file, pub)
	if res.Status == capture.Intact {
		return nil
	}
	return cli.Exit(exitCode(res.Status),
		fmt.Errorf("session-logs: %s %w: %w", res.Path, ErrNotVerified, &capture.VerifyError{Result: res}))
}

// open returns a Reader of the session FILE names, verified first unless
// insecure.
func open(file string, insecure bool, pub ed25519.PublicKey) (*capture.Reader, error) {
	paths, err := capture.SessionFiles(file)
	if err != nil {
		return nil, cli.Exit(ExitError, fmt.Errorf("session-logs: %w", err))
	}
	if !insecure {
		if len(pub) != ed25519.PublicKeySize {
			return nil, cli.Exit(ExitError, fmt.Errorf("session-logs: %w", capture.ErrBadPublicKey))
		}
		if err := verified(file, pub); err != nil {
			return nil, err
		}
	}
	r, err := capture.Open(paths, pub, readOptions(file, insecure))
	if err != nil {
		return nil, cli.Exit(ExitError, fmt.Errorf("session-logs: %w", err))
	}
	return r, nil
}

// readOptions reads FILE as a whole session when it names a segment 0.
func readOptions(file string, insecure bool) capture.ReadOptions {
	_, n, _ := capture.SegmentNumber(file)
	return capture.ReadOptions{Insecure: insecure, Session: n == 0}
}

// readErr turns an error of Reader.Next other than io.EOF into an exit.
func readErr(err error) error {
	var ve *capture.VerifyError
	if errors.As(err, &ve) {
		return cli.Exit(exitCode(ve.Result.Status), fmt.Errorf("session-logs: %w", err))
	}
	if errors.Is(err, capture.ErrMalformed) {
		return cli.Exit(ExitNotCapture, fmt.Errorf("session-logs: %w", err))
	}
	return cli.Exit(ExitError, fmt.Errorf("session-logs: %w", err))
}

// Cat prints the terminal output of the session FILE names (the Output and
// Stderr records of its terminal channels, bytes as the terminal got them)
// to out. Unless insecure,
// the capture must verify with pub first.
func Cat(file string, insecure bool, pub ed25519.PublicKey, out io.Writer) error {
	r, err := open(file, insecure, pub)
	if err != nil {
		return err
	}
	defer r.Close()
	raw := termrender.NewRaw(out)
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return readErr(err)
		}
		if err := raw.Add(rec); err != nil {
			return cli.Exit(ExitError, fmt.Errorf("session-logs: %w", err))
		}
	}
}
