package passwd

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// refArgon2id is the reference implementation's test vector
// (phc-winner-argon2 src/test.c): password "password", salt "somesalt".
const refArgon2id = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"

// refBcrypt is x/crypto/bcrypt's test vector for "allmine".
const refBcrypt = "$2a$10$XajjQvNhvvRt5GSeFk1xFeyqRrsxkhBkUiQeg0dt.wU1qD4aFDcga"

func TestHashVerify(t *testing.T) {
	for _, pw := range []string{"a", "correct horse battery staple", "pässwörd ✓", strings.Repeat("x", MaxLength)} {
		h, err := Hash(pw)
		if err != nil {
			t.Fatalf("Hash(%q): %v", pw, err)
		}
		if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
			t.Fatalf("Hash = %q, want current parameters", h)
		}
		ok, err := Verify(h, pw)
		if err != nil || !ok {
			t.Fatalf("Verify(own hash) = %v, %v", ok, err)
		}
		ok, err = Verify(h, pw+"x")
		if err != nil || ok {
			t.Fatalf("Verify(wrong) = %v, %v", ok, err)
		}
		if NeedsRehash(h) {
			t.Errorf("NeedsRehash(fresh hash) = true")
		}
	}
	a, _ := Hash("same")
	b, _ := Hash("same")
	if a == b {
		t.Error("two hashes of one password are equal: salt not random")
	}
}

func TestHashRejects(t *testing.T) {
	for _, pw := range []string{"", strings.Repeat("x", MaxLength+1)} {
		if _, err := Hash(pw); !errors.Is(err, ErrInvalidPassword) {
			t.Errorf("Hash(len %d) err = %v, want ErrInvalidPassword", len(pw), err)
		}
	}
}

func TestVerify(t *testing.T) {
	h2a, err := bcrypt.GenerateFromPassword([]byte("hunter2"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	h2b := "$2b$" + string(h2a[4:])
	h2y := "$2y$" + string(h2a[4:])
	tests := []struct {
		name    string
		encoded string
		pw      string
		want    bool
		err     error
	}{
		{"argon2id reference", refArgon2id, "password", true, nil},
		{"argon2id reference wrong", refArgon2id, "Password", false, nil},
		{"argon2id overlong password", refArgon2id, strings.Repeat("p", MaxLength+1), false, nil},
		{"bcrypt reference", refBcrypt, "allmine", true, nil},
		{"bcrypt reference wrong", refBcrypt, "allmine!", false, nil},
		{"bcrypt 2a", string(h2a), "hunter2", true, nil},
		{"bcrypt 2b", h2b, "hunter2", true, nil},
		{"bcrypt 2y", h2y, "hunter2", true, nil},
		{"bcrypt 2y wrong", h2y, "hunter3", false, nil},
		{"empty", "", "x", false, ErrMalformed},
		{"garbage", "not a hash", "x", false, ErrMalformed},
		{"argon2i", "$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc", "password", false, ErrUnsupported},
		{"sha512crypt", "$6$salt$abcdef", "x", false, ErrUnsupported},
		{"argon2 v16", strings.Replace(refArgon2id, "v=19", "v=16", 1), "password", false, ErrUnsupported},
		{"no version", "$argon2id$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc", "password", false, ErrMalformed},
		{"truncated", refArgon2id[:40], "password", false, ErrMalformed},
		{"params order", strings.Replace(refArgon2id, "m=65536,t=2,p=1", "t=2,m=65536,p=1", 1), "password", false, ErrMalformed},
		{"leading zero", strings.Replace(refArgon2id, "t=2", "t=02", 1), "password", false, ErrMalformed},
		{"memory too big", strings.Replace(refArgon2id, "m=65536", "m=4194304", 1), "password", false, ErrMalformed},
		{"zero time", strings.Replace(refArgon2id, "t=2", "t=0", 1), "password", false, ErrMalformed},
		{"padded base64", strings.Replace(refArgon2id, "c29tZXNhbHQ", "c29tZXNhbHQ=", 1), "password", false, ErrMalformed},
		{"short salt", strings.Replace(refArgon2id, "c29tZXNhbHQ", "c29t", 1), "password", false, ErrMalformed},
		{"extra field", refArgon2id + "$x", "password", false, ErrMalformed},
		{"bcrypt truncated", refBcrypt[:59], "allmine", false, ErrMalformed},
		{"bcrypt bad cost", "$2a$99" + refBcrypt[6:], "allmine", false, ErrMalformed},
		{"bcrypt bad char", refBcrypt[:59] + "!", "allmine", false, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Verify(tt.encoded, tt.pw)
			if got != tt.want || !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Fatalf("Verify = %v, %v; want %v, %v", got, err, tt.want, tt.err)
			}
			if tt.err != nil && !errors.Is(Check(tt.encoded), tt.err) {
				t.Fatalf("Check = %v, want %v", Check(tt.encoded), tt.err)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "passwd: ") {
				t.Errorf("error %q lacks the component prefix", err)
			}
		})
	}
}

func TestNeedsRehash(t *testing.T) {
	cur, err := Hash("pw")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		encoded string
		want    bool
	}{
		{cur, false},
		{refArgon2id, true}, // m=65536: other parameters
		{strings.Replace(cur, "t=2", "t=3", 1), true},
		{strings.Replace(cur, "p=1", "p=2", 1), true},
		{refBcrypt, true},
		{"garbage", true},
		{"", true},
	}
	for _, tt := range tests {
		if got := NeedsRehash(tt.encoded); got != tt.want {
			t.Errorf("NeedsRehash(%q) = %v, want %v", tt.encoded, got, tt.want)
		}
	}
}

func TestGenerate(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		pw, err := Generate(20)
		if err != nil {
			t.Fatal(err)
		}
		if len(pw) != 20 {
			t.Fatalf("len = %d", len(pw))
		}
		for _, c := range pw {
			if !strings.ContainsRune(Alphabet, c) {
				t.Fatalf("%q has %q outside the alphabet", pw, c)
			}
		}
		if seen[pw] {
			t.Fatalf("duplicate password %q", pw)
		}
		seen[pw] = true
	}
	for _, ambiguous := range "0O1lIo '\"`\\$|" {
		if strings.ContainsRune(Alphabet, ambiguous) {
			t.Errorf("alphabet has ambiguous %q", ambiguous)
		}
	}
	for _, n := range []int{-1, 0, MinGenerateLength - 1, MaxLength + 1} {
		if _, err := Generate(n); err == nil {
			t.Errorf("Generate(%d) succeeded", n)
		}
	}
}

func TestGenerateUniform(t *testing.T) {
	// Each symbol should appear about n/len(Alphabet) times; a bias such as
	// a modulo reduction would show as a symbol far off that count.
	counts := map[rune]int{}
	const total = 65000
	for n := 0; n < total/100; n++ {
		pw, err := Generate(100)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range pw {
			counts[c]++
		}
	}
	want := total / len(Alphabet)
	for _, c := range Alphabet {
		if got := counts[c]; got < want*7/10 || got > want*13/10 {
			t.Errorf("symbol %q drawn %d times, want about %d", c, got, want)
		}
	}
}

func FuzzParsePHC(f *testing.F) {
	f.Add(refArgon2id)
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("$argon2id$v=19$m=,t=2,p=1$$")
	f.Add("$argon2id$$$$$")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parsePHC(s)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("error %v is neither ErrMalformed nor ErrUnsupported", err)
			}
			return
		}
		// Parsing is strict, so what parses is canonical: it re-encodes to
		// the same string, and its parameters are within the bounds.
		if got := p.encode(); got != s {
			t.Fatalf("re-encoded %q as %q", s, got)
		}
		if p.memory > maxMemory || p.time > maxTime || p.time == 0 || p.threads == 0 ||
			len(p.salt) < minSalt || len(p.key) < minKey {
			t.Fatalf("parameters out of bounds: %+v", p)
		}
	})
}

func BenchmarkHash(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if _, err := Hash("correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyBcrypt10(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if ok, err := Verify(refBcrypt, "allmine"); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
