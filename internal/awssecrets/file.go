package awssecrets

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"

	"github.com/agentcore-proxy/agentcore-proxy/internal/redact"
)

// FileSource is a secret in a file, re-read whenever the file changes: Kubernetes updates a secret
// volume by swapping a symlink, which os.Stat (following links) sees as another file. Surrounding
// white space is trimmed.
type FileSource struct {
	path string
	log  *slog.Logger

	mu    sync.Mutex
	info  os.FileInfo
	value string
}

// NewFileSource returns a source for path; nothing is read until Secret.
func NewFileSource(path string, log *slog.Logger) *FileSource {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &FileSource{path: path, log: log}
}

// Origin returns "file:PATH".
func (s *FileSource) Origin() string { return "file:" + s.path }

// Secret returns the file's content, read again if the file changed since the last read.
func (s *FileSource) Secret(context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.refreshLocked(); err != nil {
		return "", err
	}
	return s.value, nil
}

// Reload re-reads the file if it changed and reports whether the secret did. Checking is a stat, so
// it is not throttled.
func (s *FileSource) Reload(context.Context) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refreshLocked()
}

func (s *FileSource) refreshLocked() (bool, error) {
	fi, err := os.Stat(s.path)
	if err != nil {
		return false, fmt.Errorf("awssecrets: secret file: %w", err)
	}
	if s.info != nil && os.SameFile(s.info, fi) && fi.ModTime().Equal(s.info.ModTime()) && fi.Size() == s.info.Size() {
		return false, nil
	}
	b, err := os.ReadFile(s.path)
	if err != nil {
		return false, fmt.Errorf("awssecrets: secret file: %w", err)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return false, fmt.Errorf("awssecrets: secret file %s is empty", s.path)
	}
	first := s.info == nil
	changed := !first && v != s.value
	switch {
	case first:
		s.log.Debug("secret loaded", "origin", s.Origin(), "fingerprint", redact.Fingerprint(v))
	case changed:
		s.log.Info("secret changed", "origin", s.Origin(), "old_fingerprint", redact.Fingerprint(s.value), "fingerprint", redact.Fingerprint(v))
	}
	s.info, s.value = fi, v
	return changed, nil
}
