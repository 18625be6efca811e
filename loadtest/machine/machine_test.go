package machine

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

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

func TestDescends(t *testing.T) {
	child := exec.Command("sleep", "30")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { child.Process.Kill(); child.Wait() }()
	self, pid := os.Getpid(), child.Process.Pid
	for _, tc := range []struct {
		pid, root int
		want      bool
	}{
		{pid, self, true},
		{self, self, true},
		{self, pid, false}, // the parent is not its child's descendant
		{1, self, false},
		{0, 0, false},
	} {
		if got := Descends(tc.pid, tc.root); got != tc.want {
			t.Errorf("Descends(%d, %d) = %v, want %v", tc.pid, tc.root, got, tc.want)
		}
	}
}

func TestTreeUsedKeepsExitedProcesses(t *testing.T) {
	tree := NewTree(os.Getpid())
	busy := exec.Command("sh", "-c", "while :; do :; done")
	if err := busy.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { busy.Process.Kill(); busy.Wait() }()
	time.Sleep(300 * time.Millisecond)
	tree.Sample()
	_, before := tree.Used()
	if before["sh"] <= 0 {
		t.Fatalf("used by name = %v, want some CPU time for the busy sh", before)
	}
	busy.Process.Kill()
	busy.Wait()
	tree.Sample()
	at, after := tree.Used()
	if after["sh"] < before["sh"] {
		t.Errorf("sh used %v after it exited, %v before: the counter went back", after["sh"], before["sh"])
	}
	if time.Since(at) > time.Second {
		t.Errorf("Used is dated %v, not the last sample", at)
	}
}
