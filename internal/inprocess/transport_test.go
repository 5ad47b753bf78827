package inprocess_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/agentcore-proxy/agentcore-proxy/internal/inprocess"
)

func TestTransportServesInProcess(t *testing.T) {
	var got *http.Request
	var gotBody string
	tr := &inprocess.Transport{RemoteAddr: "test", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		b, _ := io.ReadAll(r.Body)
		gotBody = string(b)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"ok":true}`)
	})}
	defer tr.Close()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://front.invalid/mcp?x=1", strings.NewReader(`{"a":1}`))
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("Content-Type") != "application/json" || string(body) != `{"ok":true}` {
		t.Errorf("answer = %d %v %q, want 201 application/json {\"ok\":true}", resp.StatusCode, resp.Header, body)
	}
	if got.RequestURI != "/mcp?x=1" || got.RemoteAddr != "test" || gotBody != `{"a":1}` {
		t.Errorf("handler saw RequestURI %q RemoteAddr %q body %q", got.RequestURI, got.RemoteAddr, gotBody)
	}
}

// TestTransportStreams: an event reaches the client when the handler
// flushes it, while the handler still runs; closing the answer ends the
// handler's request.
func TestTransportStreams(t *testing.T) {
	handlerDone := make(chan error, 1)
	tr := &inprocess.Transport{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: first\n\n")
		http.NewResponseController(w).Flush()
		<-r.Context().Done() // a stream that lasts until the client leaves
		handlerDone <- r.Context().Err()
	})}
	defer tr.Close()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://front.invalid/mcp", nil)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line != "data: first\n" {
		t.Fatalf("first line = %q, %v; want the event while the handler runs", line, err)
	}
	resp.Body.Close()
	if err := <-handlerDone; !errors.Is(err, context.Canceled) {
		t.Errorf("handler's context ended with %v, want context.Canceled", err)
	}
}

// TestTransportCloseEndsRequests: Close ends a stream nobody reads and
// returns once its handler has.
func TestTransportCloseEndsRequests(t *testing.T) {
	started := make(chan struct{})
	tr := &inprocess.Transport{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		close(started)
		for r.Context().Err() == nil {
			if _, err := io.WriteString(w, "data: x\n\n"); err != nil {
				return
			}
		}
	})}
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://front.invalid/mcp", nil)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	<-started
	tr.Close()
	if _, err := io.ReadAll(resp.Body); err == nil {
		t.Error("reading after Close succeeded, want the answer cut off")
	}
}

func TestTransportHandlerPanics(t *testing.T) {
	tr := &inprocess.Transport{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") })}
	defer tr.Close()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://front.invalid/", nil)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("answer = %d, read error %v; want 500 and io.ErrUnexpectedEOF", resp.StatusCode, err)
	}
}
