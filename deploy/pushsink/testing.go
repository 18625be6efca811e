package pushsink

import "testing"

// StartForTest starts a sink for one test and closes it when the test ends (the sink's
// own tests and those of Oven's push adapters).
func StartForTest(t testing.TB, cfg Config) *Server {
	t.Helper()
	srv, err := Start(cfg)
	if err != nil {
		t.Fatalf("pushsink.Start: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("pushsink: Close: %v", err)
		}
	})
	return srv
}
