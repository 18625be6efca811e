package audit_test

import (
	"strings"
	"testing"

	"github.com/ovengames/oven/loadtest/audit"
)

func TestReconcileLives(t *testing.T) {
	const now = 1_000_000
	life := func(id, from string) audit.LifeMail {
		return audit.LifeMail{ID: id, From: from, Amount: 1, ExpiresAt: now + 1000}
	}
	// A consistent picture: 1→2 waiting, 3→2 accepted, 1→4 claiming (in flight, not
	// credited), 3→4 claiming but already credited, a pending cooldown never delivered,
	// one waiting life whose cooldown hash has expired, one expired unpruned life.
	good := func() audit.LivesInput {
		return audit.LivesInput{
			Mailboxes: map[string]audit.LifeMailbox{
				"2": {Items: []audit.LifeMail{life("m1", "1"), life("old", "9"), {ID: "exp", From: "9", Amount: 1, ExpiresAt: now - 1}}},
				"4": {Claiming: []audit.LifeMail{life("m3", "1"), life("m4", "3")}},
			},
			Claimed: map[string][]string{"2": {"m2"}, "4": {"m4"}},
			Cooldowns: []audit.Cooldown{
				{Sender: "1", Receiver: "2", State: "sent", MailID: "m1"},
				{Sender: "3", Receiver: "2", State: "sent", MailID: "m2"},
				{Sender: "1", Receiver: "4", State: "sent", MailID: "m3"},
				{Sender: "3", Receiver: "4", State: "sent", MailID: "m4"},
				{Sender: "5", Receiver: "2", State: "pending", MailID: "m5"},
			},
			AckedSends: 4, AckedAccepts: 2,
			MetricSent: 6, MetricAccepted: 2, MetricExpired: 0, NowMS: now,
		}
	}
	tests := []struct {
		name   string
		change func(*audit.LivesInput)
		want   []string // substrings of the problems, in order
	}{
		{name: "consistent"},
		{name: "sent life lost", change: func(in *audit.LivesInput) {
			mb := in.Mailboxes["2"]
			mb.Items = mb.Items[1:]
			in.Mailboxes["2"] = mb
			in.MetricExpired = 1 // pruned as expired: the counts agree, the one-by-one match does not
		}, want: []string{"m1 sent 1→2 (cooldown marked sent) is neither in the mailbox nor accepted"}},
		{name: "waiting and accepted", change: func(in *audit.LivesInput) {
			in.Claimed["2"] = append(in.Claimed["2"], "m1")
			in.MetricAccepted = 3
		}, want: []string{"m1 of receiver 2 is waiting in the mailbox and also accepted"}},
		{name: "delivered twice", change: func(in *audit.LivesInput) {
			in.Mailboxes["4"] = audit.LifeMailbox{Items: []audit.LifeMail{life("m1", "1")}, Claiming: in.Mailboxes["4"].Claiming}
		}, want: []string{"mail m1 is in the mailbox of 2 and again in that of 4"}},
		{name: "from the wrong sender", change: func(in *audit.LivesInput) {
			in.Mailboxes["2"].Items[0].From = "7"
		}, want: []string{"sent by 1 is in 2's mailbox as from \"7\""}},
		{name: "counts: created from nothing", change: func(in *audit.LivesInput) {
			in.MetricSent = 5
		}, want: []string{"lives delivered 6 + expired 0 = 6, but sent 5 + delivered for pending cooldowns 0 = 5"}},
		{name: "accepted claims differ from the metric", change: func(in *audit.LivesInput) {
			in.MetricAccepted, in.AckedAccepts = 1, 1
		}, want: []string{"claimed sets hold 2 life claims, the shards counted 1 accepted"}},
		{name: "VPs saw more than the server counted", change: func(in *audit.LivesInput) {
			in.AckedSends = 7
		}, want: []string{"the VPs saw 7 lives sent, the shards counted 6"}},
		{name: "one mail id for two cooldowns", change: func(in *audit.LivesInput) {
			in.Cooldowns = append(in.Cooldowns, audit.Cooldown{Sender: "8", Receiver: "2", State: "sent", MailID: "m1"})
		}, want: []string{"mail id m1 reserved by two cooldowns"}},
		{name: "missing but past the mail TTL", change: func(in *audit.LivesInput) {
			in.Cooldowns = append(in.Cooldowns, audit.Cooldown{Sender: "8", Receiver: "2", State: "sent", MailID: "gone", SentAt: 10})
			in.MailTTLMS = 1000
		}},
		{name: "pending but delivered counts as delivered", change: func(in *audit.LivesInput) {
			mb := in.Mailboxes["2"]
			mb.Items = append(mb.Items, life("m5", "5"))
			in.Mailboxes["2"] = mb
		}},
		{name: "multi-life claims", change: func(in *audit.LivesInput) {
			in.Claimed["6"] = []string{"g", "g#2", "g#3"}
			in.Cooldowns = append(in.Cooldowns, audit.Cooldown{Sender: "1", Receiver: "6", State: "sent", MailID: "g"})
			in.MetricSent, in.MetricAccepted = 9, 5
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := good()
			if tt.change != nil {
				tt.change(&in)
			}
			got := audit.ReconcileLives(in)
			if len(got.Problems) != len(tt.want) {
				t.Fatalf("problems = %q, want %d matching %q", got.Problems, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(got.Problems[i], w) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got.Problems[i], w)
				}
			}
		})
	}
	t.Run("counts", func(t *testing.T) {
		got := audit.ReconcileLives(good())
		if got.SentCooldowns != 4 || got.PendingCooldowns != 1 || got.FoundWaiting != 3 || got.FoundAccepted != 1 ||
			got.Waiting != 2 || got.WaitingExpired != 1 || got.Claiming != 1 || got.ClaimingCredited != 1 ||
			got.Accepted != 2 || got.Delivered != 6 || got.Receivers != 2 {
			t.Errorf("tally = %+v", got)
		}
	})
}
