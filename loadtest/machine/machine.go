// Package machine reads what the load generator's machine is doing: CPU use of the
// whole machine and of this process, so that the report can tell a saturated server
// from a saturated generator (they share the cores). Linux only; elsewhere the
// figures read as zero.
package machine

import (
	"bufio"
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
	c.lastSelf, c.lastAt = selfCPU(), time.Now()
	return c
}

// Sample returns the machine's and this process's CPU use since the last call, in
// percent of one core (a busy 2-core machine reads 200).
func (c *CPU) Sample() (machinePct, selfPct float64) {
	busy, total := procStat()
	self, now := selfCPU(), time.Now()
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

func selfCPU() time.Duration {
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
