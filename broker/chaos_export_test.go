package broker

import (
	"context"
	"testing"
	"time"
)

// Hooks for the chaos test (chaos_test.go), which is an external test
// package so that it can serve the WebSocket listener.

// ShutdownCheckedForTest shuts s down and runs the invariant checks of
// invariants_test.go on it, as startServer does.
func ShutdownCheckedForTest(t testing.TB, s *Server) {
	t.Helper()
	checkLiveInvariants(t, s)
	conns, _ := serverConns(s)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
	checkShutdownInvariants(t, s, conns)
}

// SessionCountForTest returns the number of sessions the server holds.
func SessionCountForTest(s *Server) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}
