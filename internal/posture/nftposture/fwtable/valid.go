package fwtable

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
