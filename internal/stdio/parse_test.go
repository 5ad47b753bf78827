package stdio

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// FuzzReadEvents feeds arbitrary bytes to the SSE reader: it never panics,
// never yields more data than it read, and an event framed around a payload
// without line breaks yields exactly that payload.
func FuzzReadEvents(f *testing.F) {
	f.Add([]byte("event: message\ndata: {\"jsonrpc\":\"2.0\"}\n\n"))
	f.Add([]byte("data: a\ndata: b\r\n\r\n: comment\nid: 1\n\ndata:x"))
	f.Add([]byte("\n\n\ndata"))
	f.Add([]byte("data: 0123456789\ndata: 0123456789\n\ndata: ok\n\n"))
	f.Add([]byte("data: " + strings.Repeat("y", 100) + "\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		readEvents(bytes.NewReader(b), 1<<20, func(d []byte) {
			if len(d) > len(b) {
				t.Fatalf("event of %d bytes from %d bytes of input", len(d), len(b))
			}
		})
		// Under a small limit, no event passes it, and a refusal stops
		// the reader.
		const small = 16
		err := readEvents(bytes.NewReader(b), small, func(d []byte) {
			if len(d) > small {
				t.Fatalf("event of %d bytes under a limit of %d", len(d), small)
			}
		})
		if err != nil && !errors.Is(err, errMessageTooLarge) {
			t.Fatalf("readEvents(%q, %d) error = %v", b, small, err)
		}
		if bytes.ContainsAny(b, "\r\n") || bytes.HasPrefix(b, []byte(" ")) {
			return
		}
		var got [][]byte
		framed := append(append([]byte("data: "), b...), "\n\n"...)
		if err := readEvents(bytes.NewReader(framed), 1<<20, func(d []byte) { got = append(got, bytes.Clone(d)) }); err != nil {
			t.Fatalf("readEvents(%q) error = %v", framed, err)
		}
		if len(got) != 1 || !bytes.Equal(got[0], b) {
			t.Fatalf("readEvents(%q) = %q, want [%q]", framed, got, b)
		}
	})
}

// FuzzReadLine checks the stdin framing: lines within the limit come back
// as written, longer ones are reported and skipped.
func FuzzReadLine(f *testing.F) {
	f.Add([]byte("{}\n[1]\r\n\nlast"), 4)
	f.Add([]byte("0123456789\nab\n"), 3)
	f.Fuzz(func(t *testing.T, b []byte, max int) {
		if max < 1 || max > 64 {
			return
		}
		br := bufio.NewReaderSize(bytes.NewReader(b), 16)
		var got [][]byte
		for {
			l, tooLong, err := readLine(br, max)
			if tooLong && len(l) != 0 {
				t.Fatalf("a line over the limit came with %d bytes", len(l))
			}
			if len(l) > max {
				t.Fatalf("line of %d bytes, limit %d", len(l), max)
			}
			if !tooLong {
				got = append(got, l)
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		for _, l := range got {
			if !bytes.Contains(b, l) {
				t.Fatalf("line %q is not in the input", l)
			}
		}
	})
}
