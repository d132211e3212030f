// Command vigil-plugin-storage-local is the storage plugin that keeps
// objects as plain files under one directory: recordings stay readable with
// ordinary tools, keys can never reach outside the directory (os.Root, even
// through symlinks), and every Put is atomic and durable (temporary file,
// fsync, rename, fsync of the directory). The SHA-256, content type and
// metadata of each object live in a sidecar tree, .vigil-meta/, that List
// never shows. README.md documents the settings.
package main
