package main

import (
	"crypto/ecdsa"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/ovengames/oven/deploy/pushsink"
)

// The credentials the runner makes for its push sink.
const (
	sinkKeyID   = "OVENDEVKEY"
	sinkTeamID  = "OVENDEVTEAM"
	sinkTopic   = "com.ovengames.dev"
	sinkProject = "oven-dev"
)

// startPushSink starts the local APNs and FCM sink unless the environment names real
// providers, and points the shards at it: an APNs auth key, an FCM service account and
// the sink's certificate are written under state/push. It returns the sink's URL ("" when
// real providers are configured).
func startPushSink(d *deps, state string, log *slog.Logger) (string, error) {
	if os.Getenv("OVEN_APNS_KEY_FILE") != "" || os.Getenv("OVEN_FCM_CREDENTIALS_FILE") != "" {
		return "", nil // the shards read the real providers' settings from the environment
	}
	p8, pub, err := pushsink.NewAPNsAuthKey()
	if err != nil {
		return "", err
	}
	sink, err := pushsink.Start(pushsink.Config{APNsKeys: map[string]*ecdsa.PublicKey{sinkKeyID: pub}, APNsTeamID: sinkTeamID,
		Logger: log.With("component", "pushsink")})
	if err != nil {
		return "", fmt.Errorf("push sink: %w", err)
	}
	d.stops = append(d.stops, func() { logErr(log, "push sink stop", sink.Close()) })
	sa, err := sink.NewServiceAccount(sinkProject)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(state, "push")
	files := map[string][]byte{"apns.p8": p8, "fcm.json": sa, "ca.pem": sink.CertPEM()}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return "", err
		}
	}
	env := d.env
	env["OVEN_APNS_KEY_FILE"], env["OVEN_APNS_KEY_ID"], env["OVEN_APNS_TEAM_ID"], env["OVEN_APNS_TOPIC"] =
		filepath.Join(dir, "apns.p8"), sinkKeyID, sinkTeamID, sinkTopic
	env["OVEN_APNS_URL"], env["OVEN_FCM_URL"] = sink.APNsHost(), sink.FCMEndpoint()
	env["OVEN_FCM_CREDENTIALS_FILE"], env["OVEN_PUSH_CA_FILE"] = filepath.Join(dir, "fcm.json"), filepath.Join(dir, "ca.pem")
	log.Info("push sink started", "url", sink.URL())
	return sink.URL(), nil
}
