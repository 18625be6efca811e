package pushsink

import "testing"

// The recorder keeps the newest deliveries, oldest first, and counts all of them.
func TestRecorderKeepsTheNewestAndCountsAll(t *testing.T) {
	r := newRecorder(3)
	for i := range 5 {
		status := 200
		if i == 1 {
			status = 410
		}
		r.add(Delivery{Provider: APNs, Status: status})
	}
	r.add(Delivery{Provider: FCM, Status: 200})
	var seqs []int64
	for _, d := range r.snapshot() {
		seqs = append(seqs, d.Seq)
	}
	if len(seqs) != 3 || seqs[0] != 4 || seqs[1] != 5 || seqs[2] != 6 {
		t.Fatalf("kept %v, want [4 5 6]", seqs)
	}
	if c := r.counts(); c[APNs] != (Stats{Accepted: 4, Rejected: 1}) || c[FCM] != (Stats{Accepted: 1}) {
		t.Fatalf("counts %v", c)
	}
	r.clear()
	if len(r.snapshot()) != 0 || r.counts()[APNs].Accepted != 4 {
		t.Fatal("clear drops the deliveries kept, not the counts")
	}
}
