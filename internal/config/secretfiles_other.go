//go:build !unix

package config

import "io/fs"

// exposure reports nothing: Windows file modes do not say who may read a
// file (its ACL does).
func exposure(string) (fs.FileMode, string) { return 0, "" }
