package capped

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

var errBig = errors.New("too large")

// TestBody: a body of exactly the limit reads whole; one byte more fails
// with the caller's error, however small the reads, and keeps failing.
func TestBody(t *testing.T) {
	for _, tc := range []struct {
		size    int
		bufSize int
		wantErr bool
	}{
		{size: 10, bufSize: 512}, {size: 10, bufSize: 1}, {size: 0, bufSize: 4},
		{size: 11, bufSize: 512, wantErr: true}, {size: 11, bufSize: 1, wantErr: true}, {size: 1 << 20, bufSize: 3, wantErr: true},
	} {
		b := Body(io.NopCloser(strings.NewReader(strings.Repeat("x", tc.size))), 10, errBig)
		var got int
		buf := make([]byte, tc.bufSize)
		var err error
		for err == nil {
			var n int
			n, err = b.Read(buf)
			got += n
		}
		if tc.wantErr {
			if !errors.Is(err, errBig) || got > 10 {
				t.Errorf("size %d, reads of %d: read %d bytes, error %v; want at most 10 and the caller's error", tc.size, tc.bufSize, got, err)
			}
			if _, again := b.Read(buf); !errors.Is(again, errBig) {
				t.Errorf("size %d: a read after the failure = %v, want the caller's error again", tc.size, again)
			}
			continue
		}
		if err != io.EOF || got != tc.size {
			t.Errorf("size %d, reads of %d: read %d bytes, error %v; want all and EOF", tc.size, tc.bufSize, got, err)
		}
	}
}

// TestTransportAndDoer: an endless answer from a real server is cut at the
// limit through both wrappers.
func TestTransportAndDoer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat("y", 4096))
		for i := 0; i < 1024; i++ { // 4 MiB: "endless" for a 1 KiB limit
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	for name, do := range map[string]func(*http.Request) (*http.Response, error){
		"Transport": (&http.Client{Transport: Transport{Max: 1024, Err: errBig}}).Do,
		"Doer":      Doer{Base: http.DefaultClient, Max: 1024, Err: errBig}.Do,
	} {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
		resp, err := do(req)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !errors.Is(err, errBig) || len(got) > 1024 {
			t.Errorf("%s: read %d bytes, error %v; want at most 1024 and the caller's error", name, len(got), err)
		}
	}
}
