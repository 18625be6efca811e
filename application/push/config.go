package push

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strconv"
)

// Config is a shard's push settings: the providers it sends through (none configured:
// the rows of that platform fail with "no provider") and the sender's limits.
type Config struct {
	APNs   *APNsConfig
	FCM    *FCMConfig
	Sender SenderConfig
}

// ConfigFromEnv reads the OVEN_PUSH_, OVEN_APNS_ and OVEN_FCM_ settings (README,
// "Push notifications"). getenv is os.Getenv in production.
//
//	OVEN_APNS_KEY_FILE, _KEY_ID, _TEAM_ID, _TOPIC   APNs token auth (all four, or none)
//	OVEN_APNS_URL                                   default Apple's production host
//	OVEN_FCM_CREDENTIALS_FILE                       the service-account JSON (FCM off without)
//	OVEN_FCM_URL, OVEN_FCM_PROJECT                  default Google's endpoint, the file's project
//	OVEN_PUSH_CA_FILE                               PEM certificates to trust instead of the system's (a sink)
//	OVEN_PUSH_APNS_RATE, OVEN_PUSH_FCM_RATE         sends per second per shard (default 500)
//	OVEN_PUSH_CONCURRENCY                           sends in flight per shard (default 32)
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	var cfg Config
	roots, err := rootsFrom(getenv("OVEN_PUSH_CA_FILE"))
	if err != nil {
		return cfg, err
	}
	if cfg.APNs, err = apnsFromEnv(getenv, roots); err != nil {
		return cfg, err
	}
	if file := getenv("OVEN_FCM_CREDENTIALS_FILE"); file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return cfg, fmt.Errorf("OVEN_FCM_CREDENTIALS_FILE: %w", err)
		}
		cfg.FCM = &FCMConfig{ServiceAccountJSON: b, ProjectID: getenv("OVEN_FCM_PROJECT"), Endpoint: getenv("OVEN_FCM_URL"), RootCAs: roots}
	}
	cfg.Sender.Rates = map[string]float64{}
	for platform, key := range map[string]string{"apns": "OVEN_PUSH_APNS_RATE", "fcm": "OVEN_PUSH_FCM_RATE"} {
		if cfg.Sender.Rates[platform], err = positive(getenv, key); err != nil {
			return cfg, err
		}
	}
	c, err := positive(getenv, "OVEN_PUSH_CONCURRENCY")
	cfg.Sender.Concurrency = int(c)
	return cfg, err
}

func apnsFromEnv(getenv func(string) string, roots *x509.CertPool) (*APNsConfig, error) {
	file := getenv("OVEN_APNS_KEY_FILE")
	if file == "" {
		return nil, nil
	}
	key, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("OVEN_APNS_KEY_FILE: %w", err)
	}
	c := &APNsConfig{AuthKey: key, KeyID: getenv("OVEN_APNS_KEY_ID"), TeamID: getenv("OVEN_APNS_TEAM_ID"),
		Topic: getenv("OVEN_APNS_TOPIC"), Host: getenv("OVEN_APNS_URL"), RootCAs: roots}
	if c.KeyID == "" || c.TeamID == "" || c.Topic == "" {
		return nil, errors.New("OVEN_APNS_KEY_FILE needs OVEN_APNS_KEY_ID, OVEN_APNS_TEAM_ID and OVEN_APNS_TOPIC")
	}
	return c, nil
}

func rootsFrom(file string) (*x509.CertPool, error) {
	if file == "" {
		return nil, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("OVEN_PUSH_CA_FILE: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("OVEN_PUSH_CA_FILE %s holds no PEM certificate", file)
	}
	return pool, nil
}

// positive reads an optional number > 0 (0 when unset).
func positive(getenv func(string) string, key string) (float64, error) {
	v := getenv(key)
	if v == "" {
		return 0, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f <= 0 {
		return 0, fmt.Errorf("%s must be a number > 0", key)
	}
	return f, nil
}

// Providers builds the configured providers; close releases their connections.
func (c Config) Providers(ctx context.Context) (ps []Provider, close func(), err error) {
	close = func() {}
	if c.APNs != nil {
		a, err := NewAPNs(*c.APNs)
		if err != nil {
			return nil, close, err
		}
		ps, close = append(ps, a), a.Close
	}
	if c.FCM != nil {
		f, err := NewFCM(ctx, *c.FCM)
		if err != nil {
			close()
			return nil, func() {}, err
		}
		ps = append(ps, f)
	}
	return ps, close, nil
}
