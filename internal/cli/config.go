package cli

import (
	"fmt"
	"os"

	"go.yaml.in/yaml/v4"
)

// config is the optional --config file: defaults for flags an agent or a fleet sets once.
type config struct {
	Baseline string `yaml:"baseline"`
	StateDir string `yaml:"state_dir"`
}

func (a *app) loadConfig() error {
	if a.g.config == "" {
		return nil
	}
	data, err := os.ReadFile(a.g.config)
	if err != nil {
		return usagef("read config: %v", err)
	}
	if err := yaml.Load(data, &a.cfg, yaml.WithKnownFields()); err != nil {
		return usagef("config %s: %s; it takes the keys baseline and state_dir", a.g.config, oneLine(fmt.Sprint(err)))
	}
	return nil
}
