package pipeline

import (
	"encoding/json"
	"fmt"

	"github.com/vigilgw/vigil/daemon/internal/config"
)

// StoragePlugin says which storage plugin the upload location needs
// ("s3" for s3://, "local" for file://: vigil-plugin-storage-<name>) and
// returns its configuration: the plugin's own [plugins.storage-<name>]
// table (from tables, as config.PluginConfigJSON gives them) with what the
// [recording] settings decide merged in. Those keys belong to [recording]:
// a table that sets one of them is refused, naming it.
//
//	s3:    endpoint (from the location, https unless http:// and allow_http),
//	       bucket, region, access_key, secret_key, path_style, tls_verify,
//	       allow_http
//	local: root (the location's fixed directory)
func StoragePlugin(rec *config.Recording, tables map[string][]byte) (name string, configJSON []byte, err error) {
	t := rec.Upload
	if t == nil {
		return "", nil, fmt.Errorf("pipeline: storage plugin: the upload location is not parsed: %w", ErrConfig)
	}
	var own map[string]any
	switch t.Scheme() {
	case "s3":
		name = "s3"
		endpoint, err := t.EndpointURL(rec.AllowHTTP)
		if err != nil {
			return "", nil, fmt.Errorf("pipeline: storage plugin: %w: %w", err, ErrConfig)
		}
		own = map[string]any{
			"endpoint": endpoint, "bucket": t.Bucket(), "region": rec.S3Region,
			"access_key": rec.StorageKey, "secret_key": rec.StorageSecret,
			"path_style": rec.S3PathStyle, "tls_verify": rec.S3TLSVerify, "allow_http": rec.AllowHTTP,
		}
	case "file":
		name = "local"
		own = map[string]any{"root": t.Root()}
	default:
		return "", nil, fmt.Errorf("pipeline: storage plugin: scheme %q: %w", t.Scheme(), ErrConfig)
	}
	merged := map[string]any{}
	if table := tables["storage-"+name]; len(table) > 0 {
		if err := json.Unmarshal(table, &merged); err != nil {
			return "", nil, fmt.Errorf("pipeline: storage plugin: [plugins.storage-%s]: %w: %w", name, err, ErrConfig)
		}
	}
	for k, v := range own {
		if _, ok := merged[k]; ok {
			return "", nil, fmt.Errorf("pipeline: storage plugin: [plugins.storage-%s] sets %q, which comes from [recording] (upload_location and its settings): %w", name, k, ErrConfig)
		}
		merged[k] = v
	}
	b, err := json.Marshal(merged)
	if err != nil {
		return "", nil, fmt.Errorf("pipeline: storage plugin: %w", err)
	}
	return name, b, nil
}
