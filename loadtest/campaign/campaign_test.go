package campaign_test

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ovengames/oven/loadtest/campaign"
)

// fakeStack is a GMS and a push sink that send a campaign of `rows` pushes, `perSample`
// rows settling each time the counts are read.
type fakeStack struct {
	t         *testing.T
	rows      int64
	perSample int64

	mu      sync.Mutex
	event   map[string]any // the event the load test created
	settled int64
	before  int64 // sink requests answered before the campaign
}

func (f *fakeStack) gms() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /gms/api/login", func(w http.ResponseWriter, r *http.Request) {
		var body map[string]string
		json.NewDecoder(r.Body).Decode(&body)
		if body["username"] != "admin" || body["password"] != "pw" {
			http.Error(w, `{"error":{"code":"unauthenticated"}}`, http.StatusUnauthorized)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "oven_gms", Value: "session", Path: "/gms"})
		w.Write([]byte(`{"csrf_token":"csrf-1"}`))
	})
	mux.HandleFunc("POST /gms/api/events", func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie("oven_gms"); err != nil || c.Value != "session" || r.Header.Get("X-CSRF-Token") != "csrf-1" {
			http.Error(w, `{"error":{"code":"forbidden"}}`, http.StatusForbidden)
			return
		}
		f.mu.Lock()
		json.NewDecoder(r.Body).Decode(&f.event)
		f.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
		w.Write([]byte(`{"id":"ev1"}`))
	})
	mux.HandleFunc("GET /gms/api/events/ev1/pushes", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.settled = min(f.settled+f.perSample, f.rows)
		json.NewEncoder(w).Encode(campaign.Counts{Queued: f.rows - f.settled, Sent: f.settled - 1, Unregistered: 1})
	})
	return mux
}

func (f *fakeStack) sink() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/sink/stats" {
			http.NotFound(w, r)
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		// The sink saw the settled rows: all accepted but the unregistered one.
		n, refused := f.before+f.settled, min(f.settled, 1)
		json.NewEncoder(w).Encode(map[string]campaign.SinkCounts{
			"apns": {Accepted: n/2 - refused, Rejected: refused}, "fcm": {Accepted: n - n/2}})
	})
}

// The campaign logs in, creates a push for now to everyone, samples the sink and the
// counts, and stops once nothing is queued and the sent rows stop growing (no
// database to ask about the fan-out); the sink's counts before it are left out.
func TestRunSamplesUntilEverythingIsSent(t *testing.T) {
	f := &fakeStack{t: t, rows: 1000, perSample: 250, before: 40}
	gms := httptest.NewServer(f.gms())
	defer gms.Close()
	sink := httptest.NewTLSServer(f.sink())
	defer sink.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: sink.Certificate().Raw})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	began := time.Now()
	run, err := campaign.Start(ctx, campaign.Config{BaseURL: gms.URL, Password: "pw", SinkURL: sink.URL, SinkCA: ca,
		Wait: 5 * time.Second, Every: 20 * time.Millisecond, CountsEvery: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	rep := run.Finish(began, began.Add(time.Second))
	if !rep.Done || rep.Error != "" {
		t.Fatalf("not done: %+v", rep)
	}
	f.mu.Lock()
	ev := f.event
	f.mu.Unlock()
	starts, _ := time.Parse(time.RFC3339, ev["starts_at"].(string))
	if ev["kind"] != "push" || ev["audience"] != "all" || ev["message"] == "" || starts.Before(began.Add(-time.Second)) || starts.After(time.Now()) {
		t.Errorf("created event %v, want a push to all for now", ev)
	}
	if want := (campaign.Counts{Sent: 999, Unregistered: 1}); rep.Counts != want {
		t.Errorf("counts %+v, want %+v", rep.Counts, want)
	}
	if rep.Sink == nil || *rep.Sink != (campaign.SinkCounts{Accepted: 999, Rejected: 1}) {
		t.Errorf("sink %+v, want 999 accepted and 1 refused since the creation", rep.Sink)
	}
	if rep.Source != campaign.SourceSink || rep.Rate.Pushes != 1000 || rep.Rate.Peak <= 0 || rep.Rate.Mean <= 0 {
		t.Errorf("rate %+v from %s, want 1000 pushes from the sink", rep.Rate, rep.Source)
	}
	if rep.Tokens != -1 {
		t.Errorf("tokens %d without a database, want -1 (unknown)", rep.Tokens)
	}
	if last := rep.Points[len(rep.Points)-1]; last.Queued != 0 || last.Pushes != 1000 {
		t.Errorf("last sample %+v, want everything sent", last)
	}
}

// A campaign that does not finish in time says so, with what was still queued.
func TestRunStopsAtTheBound(t *testing.T) {
	f := &fakeStack{t: t, rows: 1_000_000, perSample: 1}
	gms := httptest.NewServer(f.gms())
	defer gms.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	run, err := campaign.Start(ctx, campaign.Config{BaseURL: gms.URL, Password: "pw", Wait: 200 * time.Millisecond, Every: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	rep := run.Finish(time.Now(), time.Now())
	if rep.Done || !strings.Contains(rep.Error, "still queued") || rep.Counts.Queued == 0 {
		t.Errorf("report %+v, want not done with rows still queued", rep)
	}
	if rep.Source != campaign.SourceOutbox || rep.Sink != nil {
		t.Errorf("source %s, sink %+v: without a sink the pushes are the outbox's settled rows", rep.Source, rep.Sink)
	}
}

func TestStartRefusesAWrongPassword(t *testing.T) {
	f := &fakeStack{t: t, rows: 1}
	gms := httptest.NewServer(f.gms())
	defer gms.Close()
	_, err := campaign.Start(context.Background(), campaign.Config{BaseURL: gms.URL, Password: "nope", Wait: time.Second})
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("Start with a wrong password: %v, want the GMS's 401", err)
	}
}
