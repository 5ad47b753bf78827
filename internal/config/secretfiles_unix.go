//go:build unix

package config

import (
	"io/fs"
	"os"
	"slices"
	"strconv"
	"syscall"
)

// exposure returns path's mode, after symlinks, and who other than its
// owner may access it ("" for nobody); see SecretFile.Exposure.
func exposure(path string) (fs.FileMode, string) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, ""
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, ""
	}
	return fi.Mode().Perm(), exposedTo(fi.Mode().Perm(), int(st.Uid) == os.Geteuid(), inGroup(int(st.Gid)), int(st.Gid))
}

// exposedTo says who besides the owner may access a file of this mode:
// "its group (gid N)", "other users", both, or "" for nobody, or for a
// group-only file this process does not own but reads through its own
// group.
func exposedTo(mode fs.FileMode, ours, ourGroup bool, gid int) string {
	group, others := mode&0o070 != 0, mode&0o007 != 0
	switch {
	case group && others:
		return "its group (gid " + strconv.Itoa(gid) + ") and other users"
	case others:
		return "other users"
	case group && !ours && ourGroup:
		return "" // the Kubernetes fsGroup mount: the group is how this process reads it
	case group:
		return "its group (gid " + strconv.Itoa(gid) + ")"
	}
	return ""
}

// inGroup reports whether this process has gid as its group or one of its
// supplementary groups.
func inGroup(gid int) bool {
	if gid == os.Getegid() {
		return true
	}
	groups, _ := os.Getgroups()
	return slices.Contains(groups, gid)
}
