package results

import (
	"fmt"
	"html/template"

	"github.com/ovengames/oven/loadtest/campaign"
)

// CampaignPair is a campaign phase with the steady phase before it on the same target,
// the same load without the campaign (Baseline nil when there was none).
type CampaignPair struct {
	Target   string
	Baseline *Phase
	Campaign *Phase
}

// CampaignPairs finds every campaign phase and its baseline: the last steady phase
// before it on its target.
func CampaignPairs(r *Report) []CampaignPair {
	var out []CampaignPair
	for ti := range r.Targets {
		t := &r.Targets[ti]
		var steady *Phase
		for pi := range t.Phases {
			p := &t.Phases[pi]
			switch {
			case p.Kind == KindSteady:
				steady = p
			case p.Kind == KindCampaign && p.Campaign != nil:
				out = append(out, CampaignPair{Target: t.Name, Baseline: steady, Campaign: p})
			}
		}
	}
	return out
}

// CampaignGoal states what a campaign did to the game: its pushes per second and the
// game's latency with and without it. It is information (DESIGN.md sets no goal for
// it), a failure only when the campaign did not start.
func CampaignGoal(cp CampaignPair) Goal {
	c := cp.Campaign.Campaign
	g := Goal{Goal: "a push campaign to every player with a token: pushes per second, and the game's p99 with it against without", Status: GoalInfo}
	if c.EventID == "" {
		g.Status, g.Measured = GoalFail, "not started: "+c.Error
		return g
	}
	s := cp.Campaign.Summary.Total
	g.Measured = fmt.Sprintf("%d pushes at the %s in %.0f s (mean %.0f/s, peak %.0f/s; %.0f/s during the arrival window); game p50/p99 %.1f/%.1f ms, server %s ms/request",
		c.Rate.Pushes, c.Source, c.Rate.LastS, c.Rate.Mean, c.Rate.Peak, c.WindowRate, s.Latency.P50, s.Latency.P99, cp.Campaign.ServerMS())
	if b := cp.Baseline; b != nil {
		bs := b.Summary.Total
		g.Measured += fmt.Sprintf(" — without (steady before): p50/p99 %.1f/%.1f ms, server %s ms/request", bs.Latency.P50, bs.Latency.P99, b.ServerMS())
	}
	if c.Error != "" {
		g.Measured += " — " + c.Error
	}
	return g
}

// campaignCharts draw the pushes per second at the sink and the rows still queued.
func campaignCharts(c *campaign.Report) []template.HTML {
	var x, rate, qx, queued []float64
	prev := campaign.Point{}
	for _, p := range c.Points {
		if dt := p.T - prev.T; dt > 0 {
			x, rate = append(x, p.T), append(rate, float64(p.Pushes-prev.Pushes)/dt)
		}
		if p.Queued >= 0 {
			qx, queued = append(qx, p.T), append(queued, float64(p.Queued))
		}
		prev = p
	}
	window := func(ys []float64) Series { return Series{Name: "arrival window", Y: ys, Dash: true, Color: "#999999"} }
	// The arrival window as a dashed step at the top of the chart.
	top := 0.0
	for _, v := range rate {
		top = max(top, v)
	}
	in := make([]float64, len(x))
	for i, t := range x {
		if t >= c.WindowFromS && t <= c.WindowToS {
			in[i] = top
		}
	}
	return []template.HTML{
		template.HTML(LineChart{Title: "pushes per second at the " + c.Source, XLabel: "seconds after the event was created", YLabel: "pushes/s", X: x,
			Series: []Series{{Name: "pushes/s", Y: rate}, window(in)}}.SVG()),
		template.HTML(LineChart{Title: "campaign rows queued", XLabel: "seconds after the event was created", YLabel: "rows", X: qx,
			Series: []Series{{Name: "queued", Y: queued}}}.SVG()),
	}
}
