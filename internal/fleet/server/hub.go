package server

import (
	"strings"
	"sync"

	"github.com/firewarden/firewarden/internal/fleet/wire"
)

// AllHosts addresses a nudge to every connected agent (a policy changed).
const AllHosts = "*"

// nudgeDisconnect is a nudge kind between the server's own parts, never written to an agent:
// it ends the host's streams (the host was revoked).
const nudgeDisconnect = "disconnect"

// labelPrefix marks a nudge target that is a label, not a host ID (LabelTarget).
const labelPrefix = "label:"

// LabelTarget addresses a nudge to every connected agent whose host has label l. Host IDs are
// UUIDs, so no host ID starts with the prefix.
func LabelTarget(l string) string { return labelPrefix + l }

// hub holds the nudge streams connected to this process, by host ID and by label. Delivery
// never blocks: each stream has a small buffer, and a nudge that finds it full is dropped,
// because the agent already has a nudge pending and one check cycle answers both.
//
// A label nudge is answered from the label index here, not from the store: the hosts of a label
// that are not connected cannot be reached anyway (they poll their config once per interval), so
// listing them all through the store only to find the connected few would cost a query per
// thousand hosts. A stream keeps the labels its host had when it connected; labels change only
// at enrolment, after which the agent connects again.
type hub struct {
	mu      sync.Mutex
	subs    map[string]map[*subscription]struct{}
	byLabel map[string]map[*subscription]struct{}
	count   int
}

type subscription struct {
	hostID string
	labels []string
	ch     chan wire.Nudge
}

func newHub() *hub {
	return &hub{subs: map[string]map[*subscription]struct{}{}, byLabel: map[string]map[*subscription]struct{}{}}
}

func add(m map[string]map[*subscription]struct{}, k string, s *subscription) {
	if m[k] == nil {
		m[k] = map[*subscription]struct{}{}
	}
	m[k][s] = struct{}{}
}

func remove(m map[string]map[*subscription]struct{}, k string, s *subscription) {
	delete(m[k], s)
	if len(m[k]) == 0 {
		delete(m, k)
	}
}

func (h *hub) subscribe(hostID string, labels []string) *subscription {
	s := &subscription{hostID: hostID, labels: labels, ch: make(chan wire.Nudge, 4)}
	h.mu.Lock()
	defer h.mu.Unlock()
	add(h.subs, hostID, s)
	for _, l := range labels {
		add(h.byLabel, l, s)
	}
	h.count++
	return s
}

func (h *hub) unsubscribe(s *subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[s.hostID][s]; !ok {
		return
	}
	remove(h.subs, s.hostID, s)
	for _, l := range s.labels {
		remove(h.byLabel, l, s)
	}
	h.count--
}

// deliver hands n to the streams of target (a host ID, AllHosts or a LabelTarget) and returns
// how many streams took it.
func (h *hub) deliver(target string, n wire.Nudge) int {
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
	switch {
	case target == AllHosts:
		for _, set := range h.subs {
			send(set)
		}
	case strings.HasPrefix(target, labelPrefix):
		send(h.byLabel[strings.TrimPrefix(target, labelPrefix)])
	default:
		send(h.subs[target])
	}
	return sent
}

func (h *hub) connected() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.count
}
