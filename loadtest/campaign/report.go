package campaign

import (
	"fmt"
	"time"
)

// Where the pushes were counted.
const (
	SourceSink   = "sink"   // the requests the push sink answered
	SourceOutbox = "outbox" // the campaign's settled rows (no sink known)
)

// Point is one sample, T seconds after the event was created.
type Point struct {
	T        float64 `json:"t"`
	Pushes   int64   `json:"pushes"`   // pushes so far (Report.Source)
	Accepted int64   `json:"accepted"` // of which the sink accepted
	Queued   int64   `json:"queued"`   // the campaign's queued rows; -1 when not read at this sample
}

// Rate is what the samples say about the pushes over time.
type Rate struct {
	Pushes int64   `json:"pushes"`
	FirstS float64 `json:"first_s"` // the sample that first saw a push, in seconds after creation
	LastS  float64 `json:"last_s"`  // the sample that first saw the final total
	Mean   float64 `json:"mean_per_s"`
	Peak   float64 `json:"peak_per_s"`
}

// Rates computes the rates from cumulative samples in time order, counted from the
// event's creation (T 0, no push yet): the mean is the pushes over the time from the
// creation to the last push, the peak the largest rate between two consecutive samples.
// Times are the samples' (1 s apart), so the first and last push are known to within a
// sample.
func Rates(points []Point) Rate {
	var r Rate
	if len(points) == 0 || points[len(points)-1].Pushes <= 0 {
		return r
	}
	r.Pushes = points[len(points)-1].Pushes
	prev, seen := Point{}, false
	for _, p := range points {
		if !seen && p.Pushes > 0 {
			r.FirstS, seen = p.T, true
		}
		if dt := p.T - prev.T; dt > 0 {
			r.Peak = max(r.Peak, float64(p.Pushes-prev.Pushes)/dt)
		}
		if p.Pushes == r.Pushes {
			r.LastS = p.T
			break
		}
		prev = p
	}
	if r.LastS > 0 {
		r.Mean = float64(r.Pushes) / r.LastS
	}
	return r
}

// MeanBetween is the mean pushes per second between from and to (seconds after the
// event's creation), the cumulative count interpolated linearly between samples.
func MeanBetween(points []Point, from, to float64) float64 {
	if to <= from || len(points) == 0 {
		return 0
	}
	return float64(at(points, to)-at(points, from)) / (to - from)
}

// at is the cumulative pushes at t, interpolated; 0 before the first sample (the event
// was created with none sent) and the last value after the last one.
func at(points []Point, t float64) float64 {
	prevT, prevV := 0.0, 0.0
	for _, p := range points {
		if p.T >= t {
			if p.T == prevT {
				return float64(p.Pushes)
			}
			return prevV + (float64(p.Pushes)-prevV)*(t-prevT)/(p.T-prevT)
		}
		prevT, prevV = p.T, float64(p.Pushes)
	}
	return prevV
}

// Report is a campaign and how its pushes went out.
type Report struct {
	EventID string    `json:"event_id"`
	Created time.Time `json:"created"`
	// Players and Tokens are the players with a live device token and those tokens when
	// the event was created (-1: no database to ask).
	Players int64       `json:"players"`
	Tokens  int64       `json:"tokens"`
	Counts  Counts      `json:"counts"`         // the campaign's rows at the end
	Sink    *SinkCounts `json:"sink,omitempty"` // what the sink answered from the creation on
	Source  string      `json:"source"`         // what Rate counts: SourceSink or SourceOutbox
	Rate    Rate        `json:"rate"`
	// WindowRate is the mean pushes per second during the phase's arrival window
	// [WindowFromS, WindowToS] (seconds after creation): while the game was measured.
	WindowRate   float64 `json:"window_per_s"`
	WindowFromS  float64 `json:"window_from_s"`
	WindowToS    float64 `json:"window_to_s"`
	Done         bool    `json:"done"` // nothing queued and the fan-out over before the bound
	WaitedS      float64 `json:"waited_s"`
	SampleErrors int     `json:"sample_errors,omitempty"`
	LastError    string  `json:"last_error,omitempty"`
	Error        string  `json:"error,omitempty"` // why the campaign did not finish or start
	Points       []Point `json:"samples,omitempty"`
}

// Lines describe the campaign for the console.
func (r *Report) Lines() []string {
	if r.EventID == "" {
		return []string{"campaign not started: " + r.Error}
	}
	c := r.Counts
	lines := []string{
		fmt.Sprintf("campaign %s: rows %d queued at the end, %d sent, %d failed, %d unregistered (of %d rows; %s)",
			r.EventID, c.Queued, c.Sent, c.Failed, c.Unregistered, c.Rows(), r.tokens()),
	}
	if r.Sink != nil {
		lines = append(lines, fmt.Sprintf("sink: %d accepted, %d refused", r.Sink.Accepted, r.Sink.Rejected))
	}
	rt := r.Rate
	lines = append(lines, fmt.Sprintf("pushes at the %s: %d; first seen %.0f s after the event's creation, the last by %.0f s; mean %.0f/s (creation to last push), peak %.0f/s; %.0f/s during the arrival window (%.0f–%.0f s)",
		r.Source, rt.Pushes, rt.FirstS, rt.LastS, rt.Mean, rt.Peak, r.WindowRate, r.WindowFromS, r.WindowToS))
	if r.Error != "" {
		lines = append(lines, "campaign: "+r.Error)
	}
	return lines
}

func (r *Report) tokens() string {
	if r.Tokens < 0 {
		return "live tokens unknown"
	}
	return fmt.Sprintf("%d live tokens of %d players when created", r.Tokens, r.Players)
}

// Sentence is the campaign's tokens and end state for the report page.
func (r *Report) Sentence() string {
	s := fmt.Sprintf("Event %s created %s; %s; sampled for %.0f s.", r.EventID, r.Created.UTC().Format("15:04:05 MST"), r.tokens(), r.WaitedS)
	if r.SampleErrors > 0 {
		s += fmt.Sprintf(" %d samples failed (last: %s).", r.SampleErrors, r.LastError)
	}
	return s
}

// Failed reports whether the campaign did not start or did not finish in time.
func (r *Report) Failed() bool { return r.Error != "" }
