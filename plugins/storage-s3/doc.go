// Command vigil-plugin-storage-s3 is Vigil's storage plugin for Amazon S3
// and S3-compatible object stores (MinIO, versitygw, Ceph RGW, GCS in
// interoperability mode, ...), built on minio-go.
//
// It keeps the whole sdk.Storage contract: keys checked with
// sdk.ValidateKey; Put streamed in parts (multipart above one part, so no
// 5 GB single-PUT limit), its size and SHA-256 checked before the object is
// committed, the SHA-256 stored with the object as user metadata so that
// Head can report it; Get of byte ranges; List paginated through the whole
// prefix; Delete and Head of missing keys as sdk.ErrNotFound; presigned GET
// and PUT URLs. README.md lists the settings.
package main
