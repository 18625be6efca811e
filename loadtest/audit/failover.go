package audit

import (
	"fmt"
	"time"
)

// FailoverLimit is DESIGN.md's bound (invariant 7) on serving a killed shard's players
// again.
const FailoverLimit = 15 * time.Second

// Failover is what a load run that killed or paused a shard under load saw (loadtest
// -chaos kill-shard or stop-shard), for invariant 7.
type Failover struct {
	Fault    string // "kill-shard" or "stop-shard"
	Shard    string
	Injected bool
	// Problem says what went wrong injecting the fault (e.g. the SIGCONT failed).
	Problem string
	// Affected counts the players that got an error after the fault; Served those of
	// them served again after their last error, the last of them ServedAll after it.
	Affected  int
	Served    int
	ServedAll time.Duration
	// Stopped marks a SIGSTOP past the lease. StoppedFenced is what the stores refused
	// to the stopped shard meanwhile, nil when its metrics could not be read after it
	// resumed: then nothing shows that it stopped writing.
	Stopped       bool
	StoppedFenced *float64
	// Static marks a stack without etcd membership: nobody took the shard's slots
	// over, so the run says nothing about takeover or fencing.
	Static bool
}

// CheckFailover judges invariant 7: after the fault no other invariant broke (so no
// acknowledged settlement, balance or life was lost: invariants 1–6 cover them), every
// player that saw an error was served again within FailoverLimit, and a stopped shard's
// late writes were refused by the stores' fences, not applied. others are the checks
// of invariants 1–6 on the same stores.
func CheckFailover(f *Failover, others []Check) Check {
	c := Check{Invariant: 7, Title: "a shard killed (SIGKILL) or paused past its lease (SIGSTOP) under load loses no acknowledged write; its players are served again within 15 s"}
	if f == nil {
		c.Status, c.Note = NotChecked, "this run kills no shard (loadtest -chaos kill-shard or -chaos stop-shard does)"
		return c
	}
	c.What = fmt.Sprintf("%s of shard %s in the max phase: invariants 1–6 still hold afterwards; every player that got an error after the fault got a good answer after its last error within %v (the VPs' own requests, or the generator's probes of GET /v1/me)",
		f.Fault, f.Shard, FailoverLimit)
	if f.Stopped {
		c.What += "; the stopped shard's late writes were refused by the stores (its oven_fenced_writes_total read after it resumed)"
	}
	if !f.Injected || f.Problem != "" {
		c.Status, c.Note = Errored, "the fault was not injected as planned: "+f.Problem
		return c
	}
	c.Checked = int64(f.Affected)
	var notChecked []int
	for _, o := range others {
		switch o.Status {
		case Fail:
			c.violate("invariant %d failed after the fault", o.Invariant)
		case Errored:
			c.Status, c.Note = Errored, fmt.Sprintf("invariant %d could not be checked, so neither can 7", o.Invariant)
			return c
		case NotChecked:
			notChecked = append(notChecked, o.Invariant)
		}
	}
	if n := f.Affected - f.Served; n > 0 {
		c.violate("%d of %d affected players were never served again while the run watched", n, f.Affected)
	}
	if f.Affected > 0 && f.ServedAll > FailoverLimit {
		c.violate("the last affected player was served again %.1f s after the fault (limit %v)", f.ServedAll.Seconds(), FailoverLimit)
	}
	c.Note = fmt.Sprintf("%d players got errors; all served again within %.1f s", f.Affected, f.ServedAll.Seconds())
	if f.Served < f.Affected {
		c.Note = fmt.Sprintf("%d players got errors, %d served again", f.Affected, f.Served)
	}
	if f.Stopped {
		if f.StoppedFenced == nil {
			c.Status = Errored
			c.Note += "; the stopped shard's metrics could not be read after it resumed, so nothing shows its late writes were refused"
			return c
		}
		c.Note += fmt.Sprintf("; the stores refused %.0f writes of the stopped shard", *f.StoppedFenced)
	}
	if len(notChecked) > 0 {
		c.Note += fmt.Sprintf("; invariants %v were not checked in this run", notChecked)
	}
	if f.Static {
		c.Note += "; the shards ran without etcd membership: the players waited for the shard's restart or SIGCONT, no slot was taken over and nothing could be fenced"
	}
	c.settle(nil)
	return c
}
