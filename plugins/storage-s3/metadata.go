package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"mime"
	"strings"
)

// S3 user metadata travels as HTTP headers (x-amz-meta-<key>: <value>),
// whose names are case-insensitive and whose values are safe only as
// printable ASCII. The plugin keeps the contract's exact round trip of
// sdk.PutOptions.Metadata within those limits: keys are restricted to
// lowercase names, and a value that is not plain printable ASCII is sent as
// an RFC 2047 encoded word (=?UTF-8?B?...?=), as AWS itself does.

// shaMetaKey is the metadata key under which the plugin stores the
// object's SHA-256 (hex). It is hidden from ObjectInfo.Metadata and
// refused in PutOptions.Metadata.
const shaMetaKey = "vigil-sha256"

const amzMetaPrefix = "x-amz-meta-"

// errMetadataKey: a metadata key S3 cannot carry exactly.
var errMetadataKey = errors.New("metadata keys must be 1-128 lowercase letters, digits, '-', '_' or '.'")

// encodeMetadata returns the headers for meta and the object's SHA-256 (""
// when unknown).
func encodeMetadata(meta map[string]string, sha string) (map[string]string, error) {
	out := make(map[string]string, len(meta)+1)
	for k, v := range meta {
		if !validMetaKey(k) {
			return nil, fmt.Errorf("metadata key %q: %w", k, errMetadataKey)
		}
		if k == shaMetaKey {
			return nil, fmt.Errorf("metadata key %q is the plugin's own", k)
		}
		out[amzMetaPrefix+k] = encodeMetaValue(v)
	}
	if sha != "" {
		out[amzMetaPrefix+shaMetaKey] = sha
	}
	return out, nil
}

func validMetaKey(k string) bool {
	if k == "" || len(k) > 128 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// encodeMetaValue leaves printable ASCII without surrounding spaces as it
// is; anything else, and anything that looks like an encoded word, is
// base64 in an encoded word, so decoding is never ambiguous.
func encodeMetaValue(v string) string {
	plain := !strings.HasPrefix(v, "=?") && strings.TrimSpace(v) == v
	for i := 0; plain && i < len(v); i++ {
		plain = v[i] >= 0x20 && v[i] < 0x7f
	}
	if plain {
		return v
	}
	return "=?UTF-8?B?" + base64.StdEncoding.EncodeToString([]byte(v)) + "?="
}

var wordDecoder = &mime.WordDecoder{}

// decodeMetadata splits what minio-go reports as user metadata (keys
// without the x-amz-meta- prefix, in whatever case the server sent) into
// the caller's metadata and the stored SHA-256.
func decodeMetadata(user map[string]string) (meta map[string]string, sha string) {
	for k, v := range user {
		k = strings.ToLower(k)
		if k == shaMetaKey {
			sha = strings.ToLower(v)
			continue
		}
		if strings.HasPrefix(v, "=?") {
			if d, err := wordDecoder.Decode(v); err == nil {
				v = d
			}
		}
		if meta == nil {
			meta = make(map[string]string, len(user))
		}
		meta[k] = v
	}
	return meta, sha
}
