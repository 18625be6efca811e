package boot

import "testing"

// TestAdvertised checks the address a shard registers in etcd for others to dial.
func TestAdvertised(t *testing.T) {
	const bound = "127.0.0.1:41001"
	tests := []struct {
		name, advertise, listen, want string
	}{
		{"StatefulSet pod: listens everywhere, registers its DNS name", "oven-application-2.oven-application.oven.svc:7101", "0.0.0.0:7101", "oven-application-2.oven-application.oven.svc:7101"},
		{"no advertise: the listen address", "", "127.0.0.1:7101", "127.0.0.1:7101"},
		{"port 0: the bound address", "", "127.0.0.1:0", bound},
		{"pre-opened listener", "", "", bound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := advertised(bound, tc.advertise, tc.listen); got != tc.want {
				t.Errorf("advertised(%q, %q, %q) = %q, want %q", bound, tc.advertise, tc.listen, got, tc.want)
			}
		})
	}
}
