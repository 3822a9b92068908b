//go:build !linux

package cache

// remoteFS returns "": only Linux tells network filesystems apart here.
func remoteFS(dir string) string { return "" }
