package sim

import (
	"bytes"
	"runtime"
	"strings"
	"testing"
)

// FuzzReadTrace: no input makes the trace reader panic, and every refusal
// is one line of bounded length.
func FuzzReadTrace(f *testing.F) {
	good := "synod-trace 2\nscenario single/basic\nseed 1\n--\n@0 begin | 0\n@5 deliver n0->n1 prepare b=1.0 | 1 2\n@5 end 1 events, 2 lines\n"
	for _, s := range []string{good, good[:len(good)/2], strings.ReplaceAll(good, "\n", "\r\n"), "", "synod-trace 2\n", "\x00\x00",
		"synod-trace 2\n--\n@x y\n", "synod-trace 2\n--\n@0 end 7\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := ReadFile(bytes.NewReader(data))
		if err != nil {
			msg := err.Error()
			if strings.Contains(msg, "\n") || len(msg) > 300 {
				t.Fatalf("error is not one short line: %q", msg)
			}
			return
		}
		if file == nil {
			t.Fatal("no file and no error")
		}
		// What parses writes back and parses the same.
		var out bytes.Buffer
		if err := file.Write(&out); err != nil {
			return // a header value the writer refuses (one line each) is fine
		}
		again, err := ReadFile(&out)
		if err != nil || len(again.Lines) != len(file.Lines) || len(again.Header) != len(file.Header) {
			t.Fatalf("a parsed trace did not survive writing: %v", err)
		}
	})
}

// TestReadFileAllocatesAFixedMultiple: whatever the input, the reader
// allocates at most a fixed multiple of it (plus a constant), so a refusal
// or a parse never costs more memory than the file's size suggests.
func TestReadFileAllocatesAFixedMultiple(t *testing.T) {
	const size = 2 << 20
	inputs := map[string][]byte{
		"events":       []byte("synod-trace 2\n--\n" + strings.Repeat("@5 deliver n0->n1 prepare b=1.0 | 1 2 3\n", size/40)),
		"header lines": []byte("synod-trace 2\n" + strings.Repeat("k v\n", size/4)),
		"one line":     []byte("synod-trace 2\n" + strings.Repeat("x", size)),
		"choices":      []byte("synod-trace 2\n--\n@0 a |" + strings.Repeat(" 1", size/2) + "\n"),
		"not a trace":  bytes.Repeat([]byte{0}, size),
	}
	for name, in := range inputs {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, _ = ReadFile(bytes.NewReader(in))
		runtime.ReadMemStats(&after)
		if got := after.TotalAlloc - before.TotalAlloc; got > 16*uint64(len(in))+1<<20 {
			t.Errorf("%s: %d bytes allocated for %d bytes of input: more than 16x", name, got, len(in))
		}
	}
}
