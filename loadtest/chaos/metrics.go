package chaos

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Shard metrics a fault is judged by (application/cluster and application/shard).
const (
	metricFenced  = "oven_fenced_writes_total" // {store}: writes a store refused as stale
	metricMoves   = "oven_slot_moves_total"    // {reason}: slots this shard took over
	metricOwned   = "oven_shard_slots_owned"   // slots this shard serves
	metricMembers = "oven_membership_members"  // {state}: live shards in etcd
)

// ShardMetrics is one shard's scrape of the metrics above.
type ShardMetrics struct {
	Addr   string             `json:"addr"`
	Fenced map[string]float64 `json:"fenced_writes,omitempty"` // by store
	Moves  map[string]float64 `json:"slot_moves,omitempty"`    // by reason
	Owned  float64            `json:"slots_owned"`
	// Membership is set when the shard exports oven_shard_slots_owned: it follows
	// membership in etcd (without etcd, static members never take slots over).
	Membership bool               `json:"membership"`
	Members    map[string]float64 `json:"members,omitempty"` // by state
	Error      string             `json:"error,omitempty"`   // the scrape failed
}

// ParseMetrics reads the fault's metrics from a Prometheus text exposition.
func ParseMetrics(r io.Reader) (ShardMetrics, error) {
	m := ShardMetrics{Fenced: map[string]float64{}, Moves: map[string]float64{}, Members: map[string]float64{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, labels, value, ok := sample(line)
		if !ok {
			continue
		}
		switch name {
		case metricFenced:
			m.Fenced[labels["store"]] += value
		case metricMoves:
			m.Moves[labels["reason"]] += value
		case metricOwned:
			m.Owned, m.Membership = value, true
		case metricMembers:
			m.Members[labels["state"]] = value
		}
	}
	return m, sc.Err()
}

// sample splits `name{a="x",b="y"} value [timestamp]`. Label values of these metrics
// hold no quotes or commas, so no unescaping is needed.
func sample(line string) (name string, labels map[string]string, value float64, ok bool) {
	rest := line
	if i := strings.IndexByte(line, '{'); i >= 0 {
		j := strings.LastIndexByte(line, '}')
		if j < i {
			return "", nil, 0, false
		}
		name, rest = line[:i], line[j+1:]
		labels = map[string]string{}
		for pair := range strings.SplitSeq(line[i+1:j], ",") {
			k, v, found := strings.Cut(pair, "=")
			if found {
				labels[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"`)
			}
		}
	} else {
		var found bool
		name, rest, found = strings.Cut(line, " ")
		if !found {
			return "", nil, 0, false
		}
	}
	fields := strings.Fields(rest)
	if len(fields) == 0 {
		return "", nil, 0, false
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	return name, labels, v, err == nil
}

// scrape reads every shard's metrics at once (id → metrics address); a shard that does
// not answer gets its Error set.
func scrape(ctx context.Context, addrs map[string]string) map[string]ShardMetrics {
	client := &http.Client{Timeout: 3 * time.Second}
	out := map[string]ShardMetrics{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for id, addr := range addrs {
		wg.Go(func() {
			m, err := scrapeOne(ctx, client, addr)
			m.Addr = addr
			if err != nil {
				m.Error = err.Error()
			}
			mu.Lock()
			out[id] = m
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

func scrapeOne(ctx context.Context, client *http.Client, addr string) (ShardMetrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return ShardMetrics{}, err
	}
	res, err := client.Do(req)
	if err != nil {
		return ShardMetrics{}, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return ShardMetrics{}, fmt.Errorf("GET /metrics: %s", res.Status)
	}
	return ParseMetrics(res.Body)
}

// Delta is what the shards counted between two scrapes.
type Delta struct {
	// Fenced and Moves sum the counters' increase over the shards, by store and by reason.
	Fenced map[string]float64 `json:"fenced_writes"`
	Moves  map[string]float64 `json:"slot_moves"`
	// FencedByShard is each shard's increase of fenced writes, summed over the stores.
	FencedByShard map[string]float64 `json:"fenced_by_shard,omitempty"`
	// Restarted names shards whose counters went down: a new process counts from zero,
	// so its whole count is taken as the increase.
	Restarted []string `json:"restarted,omitempty"`
}

// Diff returns the increase of the counters from before to after, for the shards
// scraped successfully after (a shard new since before counts from zero).
func Diff(before, after map[string]ShardMetrics) Delta {
	d := Delta{Fenced: map[string]float64{}, Moves: map[string]float64{}, FencedByShard: map[string]float64{}}
	for _, id := range slices.Sorted(maps.Keys(after)) {
		a := after[id]
		if a.Error != "" {
			continue
		}
		b := before[id]
		if b.Error != "" {
			b = ShardMetrics{}
		}
		fenced, fr := increase(b.Fenced, a.Fenced)
		moves, mr := increase(b.Moves, a.Moves)
		for k, v := range fenced {
			d.Fenced[k] += v
			d.FencedByShard[id] += v
		}
		for k, v := range moves {
			d.Moves[k] += v
		}
		if fr || mr {
			d.Restarted = append(d.Restarted, id)
		}
	}
	return d
}

// increase returns after − before per label; a counter that went down was reset by a
// restart, and its value after counts whole.
func increase(before, after map[string]float64) (map[string]float64, bool) {
	out := map[string]float64{}
	reset := false
	for k, a := range after {
		b := before[k]
		if a < b {
			reset, b = true, 0
		}
		out[k] = a - b
	}
	return out, reset
}

// Sum adds up a by-label map.
func Sum(m map[string]float64) float64 {
	var s float64
	for _, v := range m {
		s += v
	}
	return s
}

// static reports whether no shard that answered exports membership metrics: the stack
// runs on a static member list, without etcd.
func static(scrapes ...map[string]ShardMetrics) bool {
	answered := false
	for _, sc := range scrapes {
		for _, m := range sc {
			if m.Error == "" {
				answered = true
				if m.Membership {
					return false
				}
			}
		}
	}
	return answered
}
