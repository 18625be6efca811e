package cluster_test

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ovengames/oven/application/cluster"
)

func members(n int) []cluster.Member {
	ms := make([]cluster.Member, n)
	for i := range ms {
		ms[i] = cluster.Member{ID: fmt.Sprintf("s%d", i+1), Addr: fmt.Sprintf("127.0.0.1:%d", 7101+i)}
	}
	return ms
}

func TestSlotOfIsStableAndInRange(t *testing.T) {
	// Slots are part of the routing contract: a changed hash would move every player.
	if got, want := cluster.SlotOf("12345"), cluster.SlotOf("12345"); got != want {
		t.Fatalf("SlotOf not deterministic: %d vs %d", got, want)
	}
	for i := range 10000 {
		if s := cluster.SlotOf(fmt.Sprint(i)); s < 0 || s >= cluster.Slots {
			t.Fatalf("slot %d out of range", s)
		}
	}
}

func TestSpreadIsEven(t *testing.T) {
	m, err := cluster.NewMap(members(3), 1)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for slot := range cluster.Slots {
		count[m.OwnerOfSlot(slot).ID]++
	}
	for id, n := range count {
		// 4096/3 ≈ 1365; rendezvous hashing keeps each within a few percent.
		if n < 1200 || n > 1530 {
			t.Errorf("member %s owns %d slots, want about %d", id, n, cluster.Slots/3)
		}
	}
}

func TestAddingAMemberMovesOnlyItsShare(t *testing.T) {
	before, _ := cluster.NewMap(members(3), 1)
	after, _ := cluster.NewMap(members(4), 2)
	moved := 0
	for slot := range cluster.Slots {
		b, a := before.OwnerOfSlot(slot), after.OwnerOfSlot(slot)
		if b.ID != a.ID {
			moved++
			if a.ID != "s4" {
				t.Fatalf("slot %d moved from %s to %s, not to the new member", slot, b.ID, a.ID)
			}
		}
	}
	if moved < 850 || moved > 1200 {
		t.Errorf("moved %d slots, want about %d", moved, cluster.Slots/4)
	}
}

func TestOrderOfMembersDoesNotMatter(t *testing.T) {
	ms := members(5)
	a, _ := cluster.NewMap(ms, 1)
	rev := []cluster.Member{ms[4], ms[2], ms[0], ms[3], ms[1]}
	b, _ := cluster.NewMap(rev, 1)
	for slot := range cluster.Slots {
		if a.OwnerOfSlot(slot) != b.OwnerOfSlot(slot) {
			t.Fatalf("slot %d differs with member order", slot)
		}
	}
}

func TestParseMembers(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []cluster.Member
		wantErr bool
	}{
		{name: "three", in: "s1=127.0.0.1:1,s2=127.0.0.1:2, s3=h:3", want: []cluster.Member{{"s1", "127.0.0.1:1"}, {"s2", "127.0.0.1:2"}, {"s3", "h:3"}}},
		{name: "empty", in: "", wantErr: true},
		{name: "no addr", in: "s1=", wantErr: true},
		{name: "no equals", in: "s1", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := cluster.ParseMembers(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestDuplicateIDsRefused(t *testing.T) {
	if _, err := cluster.NewMap([]cluster.Member{{"s1", "a:1"}, {"s1", "b:2"}}, 1); err == nil {
		t.Fatal("want error for duplicate ids")
	}
}

func BenchmarkOwner(b *testing.B) {
	m, _ := cluster.NewMap(members(3), 1)
	for i := 0; b.Loop(); i++ {
		_ = m.Owner("1234567")
	}
}
