package fwtable

import "bytes"

// CheckSnapshot reports whether Restore could decode s, without touching the kernel: the posture
// provider refuses a damaged backup with it before anything is written. The error wraps
// ErrBadSnapshot.
func CheckSnapshot(s Snapshot) error {
	if s.Absent {
		return nil
	}
	_, err := decodeSnapshot(s.Data)
	return err
}

// CheckSpec reports whether Write can express s, without touching the kernel. The error wraps
// ErrInvalidSpec.
func CheckSpec(s Spec) error {
	_, err := s.validate()
	return err
}

// Same reports whether a and b hold the same table apart from what the kernel counts while it
// runs: the packets and bytes of counters (in rules, in set elements and named counters), what
// a quota consumed, and when a set element expires. The held table (taken when a fix settled)
// and the running one differ in exactly these once traffic flows, and are still the same
// firewall. Both must decode (the error wraps ErrBadSnapshot).
func Same(a, b Snapshot) (bool, error) {
	if a.Absent || b.Absent {
		return a.Absent == b.Absent, nil
	}
	x, err := decodeSnapshot(a.Data)
	if err != nil {
		return false, err
	}
	y, err := decodeSnapshot(b.Data)
	if err != nil {
		return false, err
	}
	if len(x) != len(y) {
		return false, nil
	}
	for i := range x {
		if x[i].Kind != y[i].Kind {
			return false, nil
		}
		p, q := stateless(x[i]), stateless(y[i])
		if !bytes.Equal(p, q) {
			return false, nil
		}
	}
	return true, nil
}
