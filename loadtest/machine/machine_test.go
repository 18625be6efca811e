package machine

import "testing"

func TestParseStat(t *testing.T) {
	// A command name with spaces and a parenthesis must not shift the fields.
	line := "4242 (my (odd) proc) S 17 4242 4242 0 -1 4194560 1 0 0 0 250 75 0 0 20 0 1 0 100 0 0"
	ppid, ticks, ok := parseStat(line)
	if !ok || ppid != 17 || ticks != 325 {
		t.Errorf("parseStat = %d, %d, %v; want 17, 325, true", ppid, ticks, ok)
	}
	if _, _, ok := parseStat("garbage"); ok {
		t.Error("parsed garbage")
	}
	if got := commName(line); got != "my (odd) proc" {
		t.Errorf("commName = %q", got)
	}
}
