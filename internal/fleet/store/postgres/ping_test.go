package postgres

import (
	"context"
	"testing"
)

func TestPing(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping() = %v, want nil", err)
	}
	s.Close()
	if err := s.Ping(ctx); err == nil {
		t.Errorf("Ping() after Close = nil, want an error")
	}
}
