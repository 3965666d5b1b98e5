package service

import (
	"fmt"
	"path"
	"time"

	"howett.net/plist"
)

// launchdJob is a LaunchDaemon plist (launchd.plist(5)); the encoder sorts the keys, as plutil does.
type launchdJob struct {
	Label             string   `plist:"Label"`
	ProgramArguments  []string `plist:"ProgramArguments"`
	RunAtLoad         bool     `plist:"RunAtLoad"`
	KeepAlive         bool     `plist:"KeepAlive,omitempty"`
	StartInterval     int64    `plist:"StartInterval,omitempty"`
	ThrottleInterval  int64    `plist:"ThrottleInterval,omitempty"`
	StandardOutPath   string   `plist:"StandardOutPath"`
	StandardErrorPath string   `plist:"StandardErrorPath"`
}

// launchdThrottle is the shortest time between two starts of a daemon, in seconds: launchd's
// default of 10 would restart a daemon with a broken configuration six times a minute.
const launchdThrottle = 30

// LogPath is where a launchd service's standard output and error go.
func LogPath(name string) string { return path.Join(LaunchdLogDir, name+".log") }

// plist renders d as a LaunchDaemon: a daemon kept alive (started at load, restarted when it
// exits), or a periodic job started at load and every interval. Output and errors go to one
// file, so that lines stay in the order they were written.
func (d def) plist(o Options) ([]byte, error) {
	job := launchdJob{
		Label:             Label(d.name),
		ProgramArguments:  d.argv(o),
		RunAtLoad:         true,
		StandardOutPath:   LogPath(d.name),
		StandardErrorPath: LogPath(d.name),
	}
	if d.periodic {
		job.StartInterval = int64(o.interval() / time.Second)
	} else {
		job.KeepAlive = true
		job.ThrottleInterval = launchdThrottle
	}
	data, err := plist.MarshalIndent(job, plist.XMLFormat, "\t")
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", Label(d.name), err)
	}
	return append(data, '\n'), nil
}
