// Package machine reads what the load generator's machine is doing: CPU use of the
// whole machine and of this process, so that the report can tell a saturated server
// from a saturated generator (they share the cores). Linux only; elsewhere the
// figures read as zero.
package machine

import (
	"bufio"
	"maps"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// CPU samples CPU use between successive calls to Sample. Not safe for concurrent use.
type CPU struct {
	lastBusy, lastTotal uint64
	lastSelf            time.Duration
	lastAt              time.Time
}

// NewCPU returns a sampler whose first Sample covers the time since now.
func NewCPU() *CPU {
	c := &CPU{}
	c.lastBusy, c.lastTotal = procStat()
	c.lastSelf, c.lastAt = SelfCPU(), time.Now()
	return c
}

// Sample returns the machine's and this process's CPU use since the last call, in
// percent of one core (a busy 2-core machine reads 200).
func (c *CPU) Sample() (machinePct, selfPct float64) {
	busy, total := procStat()
	self, now := SelfCPU(), time.Now()
	if total > c.lastTotal {
		machinePct = float64(busy-c.lastBusy) / float64(total-c.lastTotal) * 100 * float64(runtime.NumCPU())
	}
	if wall := now.Sub(c.lastAt); wall > 0 {
		selfPct = float64(self-c.lastSelf) / float64(wall) * 100
	}
	c.lastBusy, c.lastTotal, c.lastSelf, c.lastAt = busy, total, self, now
	return machinePct, selfPct
}

// procStat returns the busy and total jiffies of all CPUs.
func procStat() (busy, total uint64) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0, 0
	}
	fields := strings.Fields(sc.Text())
	if len(fields) < 5 || fields[0] != "cpu" {
		return 0, 0
	}
	for i, s := range fields[1:] {
		v, _ := strconv.ParseUint(s, 10, 64)
		total += v
		if i != 3 && i != 4 { // idle, iowait
			busy += v
		}
	}
	return busy, total
}

// SelfCPU returns the CPU time (user and system) this process has used so far.
func SelfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Info describes the machine for the report.
type Info struct {
	Cores    int    `json:"cores"`
	MemoryGB int    `json:"memory_gb"`
	Kernel   string `json:"kernel"`
	Go       string `json:"go"`
	Host     string `json:"host"`
}

// Describe returns the machine's description.
func Describe() Info {
	info := Info{Cores: runtime.NumCPU(), Go: runtime.Version()}
	info.Host, _ = os.Hostname()
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		info.Kernel = strings.TrimSpace(string(b))
	}
	var si syscall.Sysinfo_t
	if syscall.Sysinfo(&si) == nil {
		info.MemoryGB = int((uint64(si.Totalram)*uint64(si.Unit) + 1<<29) >> 30)
	}
	return info
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times: 100 on every Linux
// architecture Go supports.
const clockTicks = 100

// Tree samples the CPU use of a process and all its descendants (a dev stack: its
// shards, presentation, PostgreSQL and Redis), in total and by command name. Not safe
// for concurrent use.
type Tree struct {
	root   int
	last   map[int]procTime
	lastAt time.Time
	used   map[string]time.Duration // by command name, since NewTree
}

type procTime struct {
	name string
	cpu  time.Duration
}

// NewTree returns a sampler for the process tree under root.
func NewTree(root int) *Tree {
	return &Tree{root: root, last: treeCPU(root), lastAt: time.Now(), used: map[string]time.Duration{}}
}

// Sample returns the tree's CPU use since the last call in percent of one core, in
// total and by command name. Processes that exited in between take their last slice of
// time with them, so a sample may read a little low then.
func (t *Tree) Sample() (total float64, byName map[string]float64) {
	cur, now := treeCPU(t.root), time.Now()
	wall := now.Sub(t.lastAt)
	byName = map[string]float64{}
	if wall > 0 {
		for pid, pt := range cur {
			d := pt.cpu - t.last[pid].cpu // a new process counts from zero
			if d <= 0 {
				continue
			}
			pct := float64(d) / float64(wall) * 100
			byName[pt.name] += pct
			total += pct
			t.used[pt.name] += d
		}
	}
	t.last, t.lastAt = cur, now
	return total, byName
}

// Used returns the CPU time the tree used between NewTree and the last Sample (at), by
// command name: the sum of what the samples saw, so it never goes back when a process
// exits (its time since its last sample is lost, as in Sample).
func (t *Tree) Used() (at time.Time, byName map[string]time.Duration) {
	return t.lastAt, maps.Clone(t.used)
}

// treeCPU returns the CPU time of root and each of its live descendants, by pid.
func treeCPU(root int) map[int]procTime {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	parent := map[int]int{}
	ticks := map[int]uint64{}
	names := map[int]string{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		ppid, t, ok := parseStat(string(b))
		if !ok {
			continue
		}
		parent[pid], ticks[pid] = ppid, t
		names[pid] = commName(string(b))
	}
	out := map[int]procTime{}
	for pid, t := range ticks {
		for p, hops := pid, 0; p > 0 && hops < 64; p, hops = parent[p], hops+1 {
			if p == root {
				out[pid] = procTime{name: names[pid], cpu: time.Duration(t) * time.Second / clockTicks}
				break
			}
		}
	}
	return out
}

// commName returns the command name of a /proc/<pid>/stat line (between the first '('
// and the last ')').
func commName(s string) string {
	i, j := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if i < 0 || j <= i {
		return "?"
	}
	return s[i+1 : j]
}

// parseStat returns the parent pid and utime+stime ticks of a /proc/<pid>/stat line.
// The command name may hold spaces and parentheses, so fields count from the last ')'.
func parseStat(s string) (ppid int, ticks uint64, ok bool) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(s[i+1:])
	// f[0] is the state (field 3); ppid is field 4, utime 14, stime 15.
	if len(f) < 13 {
		return 0, 0, false
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return 0, 0, false
	}
	u, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return ppid, u + st, true
}

// Descends reports whether pid is root or one of its descendants, by the parent links
// in /proc: the load generator signals only processes of the stack it started.
func Descends(pid, root int) bool {
	for p, hops := pid, 0; p > 1 && hops < 64; hops++ {
		if p == root {
			return true
		}
		b, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/stat")
		if err != nil {
			return false
		}
		ppid, _, ok := parseStat(string(b))
		if !ok {
			return false
		}
		p = ppid
	}
	return false
}
