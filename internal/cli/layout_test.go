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

// flagOwners are the packages that may name a flag: the command's, which
// parse flags and turn structured errors into sentences. The rest (e2e and
// make bench's harness drive the command line; the emulator is a stand-in
// for AWS) are not part of the proxy's own messages.
var flagOwners = map[string]bool{"internal/cli": true, "internal/config": true, "e2e": true, "internal/bench": true, "internal/emulator": true}

// owner reports whether pkg is one of owners or inside one.
func owner(pkg string, owners map[string]bool) bool {
	for o := range owners {
		if pkg == o || strings.HasPrefix(pkg, o+"/") {
			return true
		}
	}
	return false
}

// flagRe finds a CLI flag such as --client-id in a string literal.
var flagRe = regexp.MustCompile(`(^|[\s(/"'])--[a-z][a-z0-9]*(-[a-z0-9]+)*`)

// modulePackages returns the directories, relative to the module root and
// slash-separated, of every package of the main module that holds non-test
// Go files (deploy/ is a module of its own).
func modulePackages(t *testing.T) []string {
	t.Helper()
	root := filepath.Join("..", "..")
	var pkgs []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != root && (name == "testdata" || name == "node_modules" || name == "deploy" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
			return filepath.SkipDir
		}
		files, _ := filepath.Glob(filepath.Join(path, "*.go"))
		for _, f := range files {
			if !strings.HasSuffix(f, "_test.go") {
				rel, _ := filepath.Rel(root, path)
				pkgs = append(pkgs, filepath.ToSlash(rel))
				break
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) < 10 {
		t.Fatalf("found %d packages (%q): the walk is broken", len(pkgs), pkgs)
	}
	return pkgs
}

// TestLibrariesNameNoFlags fails when a message outside internal/cli and
// internal/config names a flag of agentcore-proxy: a YAML user would be told
// to fix a flag they never used. internal/config names settings as the user
// wrote them.
func TestLibrariesNameNoFlags(t *testing.T) {
	if !flagRe.MatchString("give --client-id") || flagRe.MatchString("a well-known URL") {
		t.Fatal("flagRe no longer tells a flag from a hyphenated word")
	}
	checked := map[string]bool{}
	for _, pkg := range modulePackages(t) {
		if owner(pkg, flagOwners) {
			continue
		}
		checked[pkg] = true
		files, _ := filepath.Glob(filepath.Join("..", "..", filepath.FromSlash(pkg), "*.go"))
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
	for _, pkg := range []string{"agentcore", "proxy", "tokencache", "jwtcheck", "internal/route", "internal/server", "internal/doctor", "internal/stdio"} {
		if !checked[pkg] {
			t.Errorf("package %s was not checked: the walk is broken", pkg)
		}
	}
}

// layoutOrder reads the package map of README's "### Layout" block: the
// rank (line) of each package, "." for main.go. A line starts with one or
// more packages ("tokencache/ jwtcheck/", "internal/a, internal/b"), each
// a path with a slash, then says what they do; indented lines continue the
// text.
func layoutOrder(t *testing.T) map[string]int {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)\n### Layout\n+```\n(.*?)\n```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md: no ``` block under ### Layout")
	}
	rank := map[string]int{}
	for i, line := range strings.Split(string(m[1]), "\n") {
		if line == "" || line[0] == ' ' {
			continue
		}
		for _, n := range strings.Fields(line) {
			n = strings.TrimSuffix(n, ",")
			if n != "main.go" && !layoutNameRe.MatchString(n) {
				break // the description
			}
			n = strings.TrimSuffix(n, "/")
			if n == "main.go" {
				n = "."
			}
			if _, dup := rank[n]; dup {
				t.Errorf("README.md Layout lists %s twice", n)
			}
			rank[n] = i
		}
	}
	for _, want := range []string{".", "internal/cli", "internal/route", "proxy", "tokencache"} {
		if _, ok := rank[want]; !ok {
			t.Fatalf("README.md Layout: no line for %s (parsed %v): the parser is broken", want, rank)
		}
	}
	return rank
}

// layoutNameRe matches a package's directory as the Layout writes it:
// "proxy/", "internal/cli".
var layoutNameRe = regexp.MustCompile(`^[a-z0-9_]+(/[a-z0-9_]+)*/$|^[a-z0-9_]+(/[a-z0-9_]+)+$`)

// layoutExempt are the packages whose imports the Layout does not order:
// the end-to-end tests and their helper programs drive the whole tree.
var layoutExempt = map[string]bool{"e2e": true}

// TestImportBoundaries enforces README's Layout for every package of the
// module: a package imports only packages listed below it (packages on
// one line import neither each other), and every package is listed.
// Test files are not checked: they may use any package as a peer.
func TestImportBoundaries(t *testing.T) {
	const module = "github.com/agentcore-proxy/agentcore-proxy"
	rank := layoutOrder(t)
	checked := 0
	for _, pkg := range modulePackages(t) {
		if owner(pkg, layoutExempt) {
			continue
		}
		r, ok := rank[pkg]
		if !ok {
			t.Errorf("package %s is not in README.md's Layout: add a line for it below every package that imports it and above every package it imports", pkg)
			continue
		}
		files, _ := filepath.Glob(filepath.Join("..", "..", filepath.FromSlash(pkg), "*.go"))
		for _, file := range files {
			if strings.HasSuffix(file, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			checked++
			for _, imp := range f.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				dep, ok := strings.CutPrefix(path, module+"/")
				if !ok {
					continue
				}
				dr, listed := rank[dep]
				switch {
				case !listed:
					// Reported once as a package missing from the Layout.
				case dr == r:
					t.Errorf("%s imports %s, which README.md's Layout lists on the same line as %s: packages on one line are independent", file, dep, pkg)
				case dr < r:
					t.Errorf("%s imports %s, which README.md's Layout lists above %s: imports flow down the list; cut the import or move the line", file, dep, pkg)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("checked no file")
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
