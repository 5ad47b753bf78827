package discovery

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestLeaf keeps discovery a leaf that proxy may import and any program
// may use alone: it imports the standard library, golang.org/x/oauth2 and
// internal/secureurl only, and never tokencache.
func TestLeaf(t *testing.T) {
	allowed := []string{"golang.org/x/oauth2", "github.com/agentcore-proxy/agentcore-proxy/internal/secureurl"}
	files, err := filepath.Glob("*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no Go files found: %v", err)
	}
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			first, _, _ := strings.Cut(path, "/")
			if !strings.Contains(first, ".") {
				continue // the standard library
			}
			ok := false
			for _, a := range allowed {
				ok = ok || path == a || strings.HasPrefix(path, a+"/")
			}
			if !ok {
				t.Errorf("%s imports %s: discovery may import only the standard library and %v", file, path, allowed)
			}
		}
	}
}
