package config

import "encoding/json"

// PluginConfigJSON returns each [plugins.<kind>-<name>] table as the JSON
// object handed to that plugin, keyed by "<kind>-<name>". TOML datetimes
// become RFC 3339 strings. CheckAndSetDefaults has refused tables JSON
// cannot carry (nan, inf), so every table is present.
func (c *Config) PluginConfigJSON() map[string][]byte {
	out := make(map[string][]byte, len(c.Plugins))
	for name, table := range c.Plugins {
		if table == nil {
			table = map[string]any{}
		}
		b, err := json.Marshal(table)
		if err != nil {
			continue // unreachable after CheckAndSetDefaults (see above)
		}
		out[name] = b
	}
	return out
}
