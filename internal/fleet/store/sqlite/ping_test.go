package sqlite

import (
	"context"
	"path/filepath"
	"testing"
)

func TestPing(t *testing.T) {
	tests := []struct {
		name    string
		break_  func(t *testing.T, s *Store, path string)
		wantErr bool
	}{
		{"open", func(*testing.T, *Store, string) {}, false},
		{"closed", func(_ *testing.T, s *Store, _ string) { s.Close() }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "fleet.db")
			s, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			tt.break_(t, s, path)
			if err := s.Ping(context.Background()); (err != nil) != tt.wantErr {
				t.Errorf("Ping() = %v, want error %v", err, tt.wantErr)
			}
		})
	}
}
