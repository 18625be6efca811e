package admins_test

import (
	"testing"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/admins"
)

func TestRoles(t *testing.T) {
	order := []admins.Role{admins.Viewer, admins.Editor, admins.Publisher, admins.Operator}
	for i, r := range order {
		back, err := admins.ParseRole(r.String())
		if err != nil || back != r {
			t.Errorf("%v round-trips to %v, %v", r, back, err)
		}
		if i > 0 && !(order[i-1] < r) {
			t.Errorf("%v is not above %v", r, order[i-1])
		}
	}
	if _, err := admins.ParseRole("root"); oven.ErrorCode(err) != oven.EInvalid {
		t.Errorf("unknown role: %v", err)
	}
}

func TestNormalizeUsername(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{" Alice ", "alice", true},
		{"ops.team-1_x", "ops.team-1_x", true},
		{"", "", false},
		{"-lead", "", false},
		{"has space", "", false},
		{"ünïcode", "", false},
		{"a23456789012345678901234567890123", "", false},
	}
	for _, tt := range tests {
		got, err := admins.NormalizeUsername(tt.in)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("NormalizeUsername(%q) = %q, %v", tt.in, got, err)
		}
	}
}
