package campaign_test

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ovengames/oven/loadtest/campaign"
)

func points(ts []float64, pushes []int64) []campaign.Point {
	out := make([]campaign.Point, len(ts))
	for i := range ts {
		out[i] = campaign.Point{T: ts[i], Pushes: pushes[i], Queued: -1}
	}
	return out
}

func TestRates(t *testing.T) {
	tests := []struct {
		name   string
		points []campaign.Point
		want   campaign.Rate
	}{
		{name: "no samples", want: campaign.Rate{}},
		{name: "nothing sent", points: points([]float64{1, 2, 3}, []int64{0, 0, 0}), want: campaign.Rate{}},
		{name: "a steady send after a second of fan-out",
			points: points([]float64{1, 2, 3, 4, 5, 6}, []int64{0, 100, 200, 300, 300, 300}),
			// Done at 4 s: 300 over 4 s from the creation.
			want: campaign.Rate{Pushes: 300, FirstS: 2, LastS: 4, Mean: 75, Peak: 100}},
		{name: "the peak is the busiest interval, uneven samples counted by their length",
			points: points([]float64{1, 2, 2.5, 4}, []int64{50, 100, 400, 500}),
			want:   campaign.Rate{Pushes: 500, FirstS: 1, LastS: 4, Mean: 125, Peak: 600}},
		{name: "the first interval counts from the creation",
			points: points([]float64{0.5, 1.5}, []int64{400, 400}),
			want:   campaign.Rate{Pushes: 400, FirstS: 0.5, LastS: 0.5, Mean: 800, Peak: 800}},
		{name: "the last step that reaches the total is part of the peak",
			points: points([]float64{1, 2, 3}, []int64{10, 20, 520}),
			want:   campaign.Rate{Pushes: 520, FirstS: 1, LastS: 3, Mean: 520.0 / 3, Peak: 500}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := campaign.Rates(tc.points)
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
				t.Errorf("Rates (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMeanBetween(t *testing.T) {
	ps := points([]float64{1, 2, 3, 4}, []int64{0, 100, 300, 300})
	tests := []struct {
		name     string
		from, to float64
		want     float64
	}{
		{name: "whole samples", from: 1, to: 3, want: 150},
		{name: "interpolated inside intervals", from: 1.5, to: 2.5, want: 150},         // 50 → 200
		{name: "from the creation, before the first sample", from: 0, to: 2, want: 50}, // 0 → 100
		{name: "past the last sample the total holds", from: 3, to: 10, want: 0},
		{name: "an empty window", from: 2, to: 2, want: 0},
	}
	for _, tc := range tests {
		if got := campaign.MeanBetween(ps, tc.from, tc.to); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("%s: MeanBetween(%v, %v) = %v, want %v", tc.name, tc.from, tc.to, got, tc.want)
		}
	}
}
