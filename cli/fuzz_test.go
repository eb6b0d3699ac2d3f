package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzReadSummary: no summary file makes merge's reader panic, and every
// refusal is one line of bounded length.
func FuzzReadSummary(f *testing.F) {
	f.Add([]byte(`{"scenarios":["single/basic"],"bug":"none","first_seed":1,"seeds":2,"runs":2,"events":10,"digest":"00000000000000ff","violations":[]}`))
	f.Add([]byte(`{"scenarios":[],"bug":"none"}`))
	f.Add([]byte("\x00\x01"))
	f.Add([]byte(`   [1,2,3]`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "s.json")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Skip()
		}
		_, err := readSummary(path)
		if err != nil {
			if line := oneLine(err.Error()); len(line) > maxErrorLine+3 {
				t.Fatalf("error line too long: %d bytes", len(line))
			}
		}
	})
}

// FuzzParseShard: any -shard text either parses to 1 <= I <= N or is
// refused with one line.
func FuzzParseShard(f *testing.F) {
	for _, s := range []string{"1/4", "0/4", "5/4", "18446744073709551615/18446744073709551615", "x", "/", "1/0", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		i, n, err := parseShard(s)
		switch {
		case err != nil:
			if strings.Contains(oneLine(err.Error()), "\n") {
				t.Fatal("multi-line error")
			}
		case s == "":
			if i != 0 || n != 0 {
				t.Fatalf("empty shard parsed to %d/%d", i, n)
			}
		case i < 1 || i > n:
			t.Fatalf("%q parsed to %d/%d", s, i, n)
		}
	})
}
