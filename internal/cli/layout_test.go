package cli

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// libraries are the packages another program may import: they talk in
// their own terms, never in this command's flags.
var libraries = []string{"agentcore", "proxy", "discovery", "tokencache", "jwtcheck"}

// flagRe finds a CLI flag such as --client-id in a string literal.
var flagRe = regexp.MustCompile(`(^|[\s(/"'])--[a-z][a-z0-9]*(-[a-z0-9]+)*`)

// TestLibrariesNameNoFlags fails when a message in a library package names
// a flag of agentcore-proxy: a YAML user would be told to fix a flag they
// never used. internal/config names settings as the user wrote them.
func TestLibrariesNameNoFlags(t *testing.T) {
	for _, pkg := range libraries {
		files, _ := filepath.Glob(filepath.Join("..", "..", pkg, "*.go"))
		for _, file := range files {
			if strings.HasSuffix(file, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			for _, lit := range stringLiterals(f) {
				if flagRe.MatchString(lit) {
					t.Errorf("%s: the string %q names a flag; return a structured error or a {setting} placeholder instead", file, lit)
				}
			}
		}
	}
}

// TestImportBoundaries keeps the map of README's Layout: agentcore is a
// leaf, proxy knows neither tokencache nor jwtcheck, and no library imports
// the command's packages.
func TestImportBoundaries(t *testing.T) {
	const module = "github.com/agentcore-proxy/agentcore-proxy/"
	forbidden := map[string][]string{
		"agentcore":  {module},
		"proxy":      {module + "tokencache", module + "jwtcheck", module + "internal/cli", module + "internal/server", module + "internal/config"},
		"tokencache": {module + "proxy", module + "internal/cli", module + "internal/server", module + "internal/config"},
		"jwtcheck":   {module + "proxy", module + "internal/cli", module + "internal/server", module + "internal/config"},
	}
	for pkg, bad := range forbidden {
		files, _ := filepath.Glob(filepath.Join("..", "..", pkg, "*.go"))
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
				for _, b := range bad {
					if strings.HasPrefix(path, b) {
						t.Errorf("%s imports %s, which package %s must not", file, path, pkg)
					}
				}
			}
		}
	}
}

// stringLiterals returns the values of f's string literals.
func stringLiterals(f *ast.File) []string {
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
			if s, err := strconv.Unquote(lit.Value); err == nil {
				out = append(out, s)
			}
		}
		return true
	})
	return out
}

// TestMakeFuzzListsEveryTarget fails when a fuzz target is missing from
// FUZZ_TARGETS in the Makefile: make fuzz would never explore it.
func TestMakeFuzzListsEveryTarget(t *testing.T) {
	root := filepath.Join("..", "..")
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?ms)^FUZZ_TARGETS :=(.*?)\n\n`).FindSubmatch(mk)
	if m == nil {
		t.Fatal("Makefile: no FUZZ_TARGETS := ... block")
	}
	listed := map[string]bool{}
	for _, f := range strings.Fields(strings.ReplaceAll(string(m[1]), "\\", " ")) {
		listed[f] = true
	}
	fuzzRe := regexp.MustCompile(`(?m)^func (Fuzz\w+)\(f \*testing\.F\)`)
	found := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == "deploy" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		for _, fm := range fuzzRe.FindAllStringSubmatch(string(src), -1) {
			found++
			if target := filepath.ToSlash(rel) + ":" + fm[1]; !listed[target] {
				t.Errorf("%s: %s is not in the Makefile's FUZZ_TARGETS; add %s", path, fm[1], target)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found == 0 {
		t.Fatal("found no fuzz target: the walk is broken")
	}
}
