package main

import (
	"io"
	"log/slog"
	"strings"
	"testing"
)

// TestAdvertiseOnEtcd checks the address a shard registers in etcd: OVEN_GRPC_ADVERTISE
// when set (a pod listening on 0.0.0.0 registers its DNS name), OVEN_GRPC_ADDR
// otherwise, and never an address that names every interface.
func TestAdvertiseOnEtcd(t *testing.T) {
	for _, tc := range []struct {
		name, listen, advertise string
		wantErr                 string // "" when the settings are accepted
	}{
		{"pod DNS name", "0.0.0.0:7101", "oven-application-3.oven-application.oven.svc:7101", ""},
		{"loopback listen, no advertise", "127.0.0.1:7101", "", ""},
		{"host listen, no advertise", "shard-a.internal:7101", "", ""},
		{"every IPv4 interface", "0.0.0.0:7101", "", "OVEN_GRPC_ADVERTISE"},
		{"every IPv6 interface", "[::]:7101", "", "OVEN_GRPC_ADVERTISE"},
		{"no host", ":7101", "", "OVEN_GRPC_ADVERTISE"},
		{"advertise every interface", "0.0.0.0:7101", "0.0.0.0:7101", "OVEN_GRPC_ADVERTISE"},
		{"advertise without port", "0.0.0.0:7101", "oven-application-3", "OVEN_GRPC_ADVERTISE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("OVEN_ETCD_ENDPOINTS", "http://127.0.0.1:1") // the client connects lazily
			t.Setenv("OVEN_GRPC_ADDR", tc.listen)
			t.Setenv("OVEN_GRPC_ADVERTISE", tc.advertise)
			cfg, err := configFromEnv(slog.New(slog.NewTextHandler(io.Discard, nil)))
			if cfg.Etcd != nil {
				defer cfg.Etcd.Close()
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.GRPCAddr != tc.listen || cfg.Advertise != tc.advertise {
				t.Errorf("listen %q advertise %q, want %q and %q", cfg.GRPCAddr, cfg.Advertise, tc.listen, tc.advertise)
			}
		})
	}
}
