package vp

import (
	"testing"
	"time"
)

func TestLifeSentCooldown(t *testing.T) {
	o := NewObserved(10)
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	hour := time.Hour
	o.lifeSent("1", "2", t0, hour)
	o.lifeSent("2", "1", t0, hour)                     // the other direction is another pair
	o.lifeSent("1", "2", t0.Add(hour), hour)           // a full cooldown later
	o.lifeSent("1", "3", t0.Add(time.Minute), hour)    // another receiver
	o.lifeSent("1", "3", t0.Add(30*time.Minute), hour) // too soon: a violation
	var got Check
	for _, c := range o.Checks() {
		if c.Name == CheckCooldown {
			got = c
		}
	}
	if got.Checked != 5 || got.Violations != 1 || len(got.Examples) != 1 {
		t.Errorf("cooldown check = %+v, want 5 checked, 1 violation", got)
	}
	if n := o.Counter(CountLivesSent); n != 5 {
		t.Errorf("lives sent = %d, want 5", n)
	}
}
