package oven_test

import (
	"testing"

	"github.com/ovengames/oven"
)

func TestSecondsAndMillisSaturate(t *testing.T) {
	tests := []struct {
		name string
		got  int64
		want int64
	}{
		{"seconds", int64(oven.Seconds(90)), 90e9},
		{"seconds that would wrap", int64(oven.Seconds(3600 + 1<<55)), 1<<63 - 1},
		{"negative seconds that would wrap", int64(oven.Seconds(-1 << 62)), -1 << 63},
		{"millis", int64(oven.Millis(1500)), 1500e6},
		{"millis that would wrap", int64(oven.Millis(1 << 62)), 1<<63 - 1},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, tt.got, tt.want)
		}
	}
}
