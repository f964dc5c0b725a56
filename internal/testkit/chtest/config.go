package chtest

import (
	"fmt"
	"os"
	"path/filepath"
)

// baseConfig is chtest's own server configuration. The macro carries the token that proves, during
// the readiness check, that the server on the port is this one. The memory worker's default period
// (100 ms) is most of an idle server's CPU use.
const baseConfig = `<clickhouse>
    <macros>
        <chtest_token>%s</chtest_token>
    </macros>
    <memory_worker_period_ms>2000</memory_worker_period_ms>
</clickhouse>
`

// keeperConfig gives the server an in-process keeper for KeeperMap tables.
const keeperConfig = `<clickhouse>
    <zookeeper>
        <implementation>testkeeper</implementation>
    </zookeeper>
    <keeper_map_path_prefix>/keeper_map_tables</keeper_map_path_prefix>
</clickhouse>
`

// writeConfig writes dir/config.xml and, for the options that need it, files in dir/config.d/, which
// ClickHouse merges over config.xml in name order.
func writeConfig(dir, token string, opts Options) error {
	if err := os.WriteFile(filepath.Join(dir, "config.xml"), fmt.Appendf(nil, baseConfig, token), 0o644); err != nil {
		return fmt.Errorf("write config.xml: %w", err)
	}
	files := map[string][]byte{}
	if opts.Keeper {
		files["10-keeper.xml"] = []byte(keeperConfig)
	}
	if opts.ConfigXML != "" {
		files["20-options.xml"] = []byte(opts.ConfigXML)
	}
	if opts.ConfigFile != "" {
		data, err := os.ReadFile(opts.ConfigFile)
		if err != nil {
			return fmt.Errorf("read extra config: %w", err)
		}
		files["30-file.xml"] = data
	}
	if len(files) == 0 {
		return nil
	}
	confd := filepath.Join(dir, "config.d")
	if err := os.Mkdir(confd, 0o755); err != nil {
		return fmt.Errorf("write config.d: %w", err)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(confd, name), data, 0o644); err != nil {
			return fmt.Errorf("write config.d: %w", err)
		}
	}
	return nil
}
