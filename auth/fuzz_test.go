package auth

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParseKey: ParseKey never panics, accepts only the exact form Create
// makes (so what it accepts rebuilds to the same string), and
// Authenticate refuses anything that is not a stored key.
func FuzzParseKey(f *testing.F) {
	good, _, _ := newKey()
	for _, s := range []string{"", "pbk_", good, strings.ToUpper(good), good + "x", good[:len(good)-1],
		"pbk_0123456789abcdef_", "Bearer " + good, "pbk_0123456789abcdef_" + strings.Repeat("g", 64)} {
		f.Add(s)
	}
	s, err := Open(filepath.Join(f.TempDir(), "k.db"))
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	stored, _, err := s.Create(context.Background(), Principal{Role: RoleAdmin})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in string) {
		id, secret, ok := ParseKey(in)
		if ok {
			if keyPrefix+id+"_"+secret != in || len(in) != KeyLen || !ValidKeyID(id) {
				t.Fatalf("ParseKey(%q) = %q, %q: does not rebuild the input", in, id, secret)
			}
		} else if id != "" || secret != "" {
			t.Fatalf("ParseKey(%q) refused but returned %q, %q", in, id, secret)
		}
		_, err := s.Authenticate(context.Background(), in)
		if in == stored {
			if err != nil {
				t.Fatalf("the stored key is refused: %v", err)
			}
		} else if !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("Authenticate(%q) = %v; want ErrUnauthenticated", in, err)
		}
	})
}
