package server

import (
	"sync"

	"github.com/firewarden/firewarden/internal/fleet/wire"
)

// AllHosts addresses a nudge to every connected agent (a policy changed).
const AllHosts = "*"

// hub holds the nudge streams connected to this process, by host ID. Delivery never blocks:
// each stream has a small buffer, and a nudge that finds it full is dropped, because the agent
// already has a nudge pending and one check cycle answers both.
type hub struct {
	mu    sync.Mutex
	subs  map[string]map[*subscription]struct{}
	count int
}

type subscription struct {
	hostID string
	ch     chan wire.Nudge
}

func newHub() *hub { return &hub{subs: map[string]map[*subscription]struct{}{}} }

func (h *hub) subscribe(hostID string) *subscription {
	s := &subscription{hostID: hostID, ch: make(chan wire.Nudge, 4)}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.subs[hostID] == nil {
		h.subs[hostID] = map[*subscription]struct{}{}
	}
	h.subs[hostID][s] = struct{}{}
	h.count++
	return s
}

func (h *hub) unsubscribe(s *subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[s.hostID][s]; !ok {
		return
	}
	delete(h.subs[s.hostID], s)
	if len(h.subs[s.hostID]) == 0 {
		delete(h.subs, s.hostID)
	}
	h.count--
}

// deliver hands n to the streams of hostID (or of every host for AllHosts) and returns how many
// streams took it.
func (h *hub) deliver(hostID string, n wire.Nudge) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	sent := 0
	send := func(set map[*subscription]struct{}) {
		for s := range set {
			select {
			case s.ch <- n:
				sent++
			default:
			}
		}
	}
	if hostID == AllHosts {
		for _, set := range h.subs {
			send(set)
		}
	} else {
		send(h.subs[hostID])
	}
	return sent
}

func (h *hub) connected() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.count
}
