package server

import (
	"context"
	"encoding/json"
	"hash/fnv"

	"github.com/firewarden/firewarden/internal/fleet/wire"
)

// Notifier is the optional store ability to carry messages between server replicas
// (PostgreSQL's LISTEN/NOTIFY). With it, a nudge sent through one replica reaches an agent
// connected to another.
type Notifier interface {
	Notify(ctx context.Context, channel, payload string) error
	// Listen calls fn with every payload on channel until ctx is done, reconnecting as needed.
	Listen(ctx context.Context, channel string, fn func(payload string)) error
}

// Locker is the optional store ability to run a periodic job on one replica only.
type Locker interface {
	TryAdvisoryLock(ctx context.Context, key int64) (unlock func(), ok bool, err error)
}

// nudgeChannel is the notification channel nudges cross replicas on.
const nudgeChannel = "firewarden_nudge"

// busMessage is a nudge on the wire between replicas.
type busMessage struct {
	Host string `json:"host"`
	Kind string `json:"kind"`
	ID   string `json:"id,omitempty"`
}

// NotifyBus publishes nudges through a Notifier; every replica's ListenNudges delivers them.
type NotifyBus struct{ N Notifier }

// Publish implements Bus.
func (b NotifyBus) Publish(ctx context.Context, hostID string, n wire.Nudge) error {
	p, err := json.Marshal(busMessage{Host: hostID, Kind: n.Kind, ID: n.ID})
	if err != nil {
		return err
	}
	return b.N.Notify(ctx, nudgeChannel, string(p))
}

// ListenNudges delivers the nudges any replica publishes to this one's streams until ctx ends.
// A nudge published while the listener reconnects is lost; its agent still polls its config
// once per policy interval.
func (s *Server) ListenNudges(ctx context.Context, n Notifier) error {
	return n.Listen(ctx, nudgeChannel, func(payload string) {
		var m busMessage
		if err := json.Unmarshal([]byte(payload), &m); err != nil || m.Host == "" || m.Kind == "" {
			s.log.Warn("ignored a malformed nudge notification", "payload", payload)
			return
		}
		s.Deliver(m.Host, wire.Nudge{Kind: m.Kind, ID: m.ID})
	})
}

// lockKey is the advisory lock key of a periodic job, derived from its name.
func lockKey(job string) int64 {
	h := fnv.New64a()
	h.Write([]byte("firewarden-server/" + job))
	return int64(h.Sum64())
}
