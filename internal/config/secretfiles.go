package config

import (
	"fmt"
	"io/fs"
	"strings"
)

// SecretFile is a file a route reads a secret or a private key from, with
// the setting that names it as the user wrote it.
type SecretFile struct {
	// Setting is the flag or YAML field, e.g. --client-secret-file.
	Setting string
	// Path is the file as given (a symlink is followed when checked).
	Path string
	// Holds says what the file holds, e.g. "the app client's secret".
	Holds string
}

// SecretFiles returns the files r reads its client secret or private key
// from; none when the secret comes from the environment or AWS.
func (r Resolved) SecretFiles() []SecretFile {
	a := r.Auth
	if a == nil {
		return nil
	}
	var files []SecretFile
	if a.secretFile != "" {
		files = append(files, SecretFile{Setting: a.field("auth.client_secret_file", "--client-secret-file"), Path: a.secretFile, Holds: "the app client's secret"})
	}
	if a.keyFile != "" {
		files = append(files, SecretFile{Setting: a.field("auth.client_key_file", "--client-key-file"), Path: a.keyFile, Holds: "the client's private key"})
	}
	return files
}

// Exposure returns a sentence saying which users besides the file's owner
// may access f and how to fix it, or "" when none may (or the file cannot be
// read, which reading it reports, or on Windows, where mode bits mean
// nothing). A file owned by another user that this process reads through
// its own group only, as Kubernetes mounts a secret volume with fsGroup and
// defaultMode 0440, is not exposed: chmod 600 would lock the process out.
func (f SecretFile) Exposure() string {
	mode, who := exposure(f.Path)
	if who == "" {
		return ""
	}
	return fmt.Sprintf("%s %q (%s) has mode %04o: %s can access it; run chmod 600 %s (Kubernetes: a secret volume with defaultMode 0400, or 0440 with the pod's fsGroup)",
		f.Setting, f.Path, f.Holds, mode&fs.ModePerm, who, shellArg(f.Path))
}

// shellArg quotes s for a POSIX shell when it needs quoting.
func shellArg(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+:@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
