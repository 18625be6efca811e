package results_test

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/ovengames/oven/loadtest/campaign"
	"github.com/ovengames/oven/loadtest/results"
	"github.com/ovengames/oven/loadtest/stats"
)

func campaignPhase(p99 float64, c *campaign.Report) results.Phase {
	p := phase(results.KindCampaign, 0, 100, p99, 0)
	p.Campaign = c
	return p
}

func sentCampaign() *campaign.Report {
	pts := []campaign.Point{{T: 1, Pushes: 0, Queued: 1000}, {T: 2, Pushes: 400, Queued: -1}, {T: 3, Pushes: 1000, Queued: 0}}
	return &campaign.Report{EventID: "ev1", Created: time.Unix(0, 0), Players: 1000, Tokens: 1000, Source: campaign.SourceSink,
		Counts: campaign.Counts{Sent: 1000}, Sink: &campaign.SinkCounts{Accepted: 1000}, Done: true,
		Rate: campaign.Rates(pts), WindowToS: 2, WindowRate: 200, Points: pts}
}

// The baseline of a campaign is the steady phase just before it on its target.
func TestCampaignPairs(t *testing.T) {
	first, second := phase(results.KindSteady, 0, 100, 11, 0), phase(results.KindSteady, 0, 100, 12, 0)
	r := &results.Report{Targets: []results.Target{
		{Name: "relay", Phases: []results.Phase{first}},
		{Name: "stack", Phases: []results.Phase{campaignPhase(30, sentCampaign()), first, phase(results.KindBurst, 0, 100, 99, 0),
			second, campaignPhase(40, sentCampaign())}},
	}}
	pairs := results.CampaignPairs(r)
	if len(pairs) != 2 {
		t.Fatalf("%d pairs, want 2", len(pairs))
	}
	if pairs[0].Baseline != nil {
		t.Errorf("a campaign with no steady phase before it on its target got baseline %+v", pairs[0].Baseline)
	}
	if b := pairs[1].Baseline; b == nil || b.Summary.Total.Latency.P99 != 12 || pairs[1].Campaign.Summary.Total.Latency.P99 != 40 {
		t.Errorf("second pair %+v, want the last steady phase before it", pairs[1])
	}
}

func TestCampaignGoals(t *testing.T) {
	stack := &results.Target{Name: "stack", Phases: []results.Phase{phase(results.KindSteady, 0, 100, 12, 0), campaignPhase(80, sentCampaign())}}
	var got []results.Goal
	for _, g := range results.Goals(nil, stack, 50) {
		if strings.Contains(g.Goal, "campaign") {
			got = append(got, g)
		}
	}
	if len(got) != 2 {
		t.Fatalf("campaign goals %+v, want the open-loop objective and the campaign's figures", got)
	}
	if got[0].Status != results.GoalFail {
		t.Errorf("campaign p99 80 ms against a 50 ms objective: %+v", got[0])
	}
	if g := got[1]; g.Status != results.GoalInfo || !strings.Contains(g.Measured, "p50/p99 0.0/80.0 ms") || !strings.Contains(g.Measured, "without (steady before): p50/p99 0.0/12.0 ms") {
		t.Errorf("campaign figures %+v, want the p99 with and without", g)
	}
	notStarted := &results.Target{Name: "stack", Phases: []results.Phase{campaignPhase(10, &campaign.Report{Error: "GMS login: 401"})}}
	for _, g := range results.Goals(nil, notStarted, 50) {
		if strings.HasPrefix(g.Goal, "a push campaign") && (g.Status != results.GoalFail || !strings.Contains(g.Measured, "401")) {
			t.Errorf("a campaign that did not start: %+v", g)
		}
	}
}

// The page shows the campaign's figures, both phases' latency and its charts as
// well-formed SVG.
func TestHTMLCampaignSection(t *testing.T) {
	steady := phase(results.KindSteady, 0, 100, 12, 0)
	steady.Summary.Series = []stats.Second{{T: 0, Count: 100}}
	r := &results.Report{Title: "t", Generated: time.Unix(0, 0), Targets: []results.Target{{Name: "stack",
		Phases: []results.Phase{steady, campaignPhase(40, sentCampaign())}}}}
	var buf bytes.Buffer
	if err := results.RenderHTML(&buf, r); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	start := strings.Index(page, "<h2>Push campaign</h2>")
	if start < 0 {
		t.Fatal("no campaign section")
	}
	section := page[start : strings.Index(page[start+1:], "<h2>")+start+1]
	for _, want := range []string{"without: steady", "with: campaign", "<td>12.0</td>", "<td>40.0</td>", "<td>1000</td>", "pushes per second at the sink"} {
		if !strings.Contains(section, want) {
			t.Errorf("campaign section lacks %q", want)
		}
	}
	for _, s := range strings.Split(section, "<svg ")[1:] {
		doc := "<svg " + s[:strings.Index(s, "</svg>")+len("</svg>")]
		if err := xml.Unmarshal([]byte(doc), new(struct{})); err != nil {
			t.Errorf("chart is not well-formed XML: %v", err)
		}
	}
}
