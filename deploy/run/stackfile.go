package main

import (
	"path/filepath"
	"sort"
	"sync"
)

// stackWriter keeps <state>/stack.json up to date: the runner fills it in while starting
// the stack, and the supervisor's restarts change the pids in it afterwards.
type stackWriter struct {
	mu      sync.Mutex
	state   string
	stack   Stack
	written bool // from the first write on, every change is written at once
}

func newStackWriter(state string, s Stack) *stackWriter {
	s.Presentations, s.PIDs = map[string]string{}, map[string]int{}
	return &stackWriter{state: state, stack: s}
}

// setPresentation adds the presentation process name and its address, and writes the
// file once it has been written.
func (w *stackWriter) setPresentation(name, addr string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stack.Presentations[name] = addr
	if w.written {
		w.writeLocked()
	}
}

// removePresentation forgets a presentation process that was stopped on purpose, and
// writes the file.
func (w *stackWriter) removePresentation(name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.stack.Presentations, name)
	delete(w.stack.PIDs, name)
	if w.written {
		w.writeLocked()
	}
}

// presentationNames returns the presentation processes the file lists now.
func (w *stackWriter) presentationNames() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	names := make([]string, 0, len(w.stack.Presentations))
	for name := range w.stack.Presentations {
		names = append(names, name)
	}
	return names
}

func (w *stackWriter) setLB(lb *LoadBalancer) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stack.LB = lb
}

// setShard adds shard id, its gRPC and metrics addresses, and writes the file.
func (w *stackWriter) setShard(id, grpcAddr, metricsAddr string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stack.Shards[id], w.stack.ShardMetrics[id] = grpcAddr, metricsAddr
	if w.written {
		w.writeLocked()
	}
}

// removeShard forgets a shard that left (drained and exited), and writes the file.
func (w *stackWriter) removeShard(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.stack.Shards, id)
	delete(w.stack.ShardMetrics, id)
	delete(w.stack.PIDs, id)
	if w.written {
		w.writeLocked()
	}
}

// setControl records the control socket's path.
func (w *stackWriter) setControl(path string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stack.Control = path
	if w.written {
		w.writeLocked()
	}
}

// setPID records a child's pid; it is the supervisor's onStarted callback.
func (w *stackWriter) setPID(name string, pid int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stack.PIDs[name] = pid
	if w.written {
		w.writeLocked() // best effort: a failed rewrite leaves the previous file whole
	}
}

// write writes stack.json, and prometheus-targets.json for a local Prometheus's
// file_sd_configs (deploy/prometheus/prometheus.yml).
func (w *stackWriter) write() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.written = true
	return w.writeLocked()
}

func (w *stackWriter) writeLocked() error {
	if err := writeJSON(filepath.Join(w.state, "stack.json"), w.stack); err != nil {
		return err
	}
	return writeJSON(filepath.Join(w.state, "prometheus-targets.json"), promTargets(w.stack))
}

// promTarget is one group of Prometheus's file-based service discovery.
type promTarget struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels"`
}

// promTargets lists every process's /metrics; the component label matches the one
// the Kubernetes scrape job sets, so dashboards work on both.
func promTargets(s Stack) []promTarget {
	var out []promTarget
	add := func(component string, byName map[string]string) {
		names := make([]string, 0, len(byName))
		for n := range byName {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			out = append(out, promTarget{Targets: []string{byName[n]}, Labels: map[string]string{"component": component, "process": n}})
		}
	}
	add("application", s.ShardMetrics)
	add("presentation", s.Presentations)
	if s.LB != nil && s.LB.Metrics != "" {
		add("lb", map[string]string{"lb": s.LB.Metrics})
	}
	return out
}
