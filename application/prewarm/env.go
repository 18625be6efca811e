package prewarm

import (
	"fmt"
	"strconv"
	"time"
)

// FromEnv reads the OVEN_PREWARM_ settings (README, "Pre-warming"); getenv is os.Getenv
// in production. The scaler is nil unless OVEN_PREWARM names one:
//
//	OVEN_PREWARM=runner   the dev runner's presentation copies (OVEN_PREWARM_RUNNER: its control socket)
//	OVEN_PREWARM=k8s      the HPA OVEN_PREWARM_HPA (default oven-presentation) in OVEN_PREWARM_NAMESPACE
//	OVEN_PREWARM_BASE, _MAX          the floor without events, and the highest (default 1 and 8)
//	OVEN_PREWARM_LEAD, _HOLD, _QUIET durations (default 10m, 30m, 10m)
//	OVEN_PREWARM_COPY_RPS            requests per second one copy carries (default 500)
func FromEnv(getenv func(string) string) (Config, Scaler, error) {
	var cfg Config
	var err error
	ints := map[string]*int{"OVEN_PREWARM_BASE": &cfg.Base, "OVEN_PREWARM_MAX": &cfg.Max}
	for key, dst := range ints {
		if v := getenv(key); v != "" {
			if *dst, err = strconv.Atoi(v); err != nil || *dst < 1 {
				return cfg, nil, fmt.Errorf("%s must be a whole number ≥ 1", key)
			}
		}
	}
	durations := map[string]*time.Duration{"OVEN_PREWARM_LEAD": &cfg.Lead, "OVEN_PREWARM_HOLD": &cfg.Hold, "OVEN_PREWARM_QUIET": &cfg.Quiet}
	for key, dst := range durations {
		if v := getenv(key); v != "" {
			if *dst, err = time.ParseDuration(v); err != nil || *dst <= 0 {
				return cfg, nil, fmt.Errorf("%s must be a positive duration such as 10m", key)
			}
		}
	}
	if v := getenv("OVEN_PREWARM_COPY_RPS"); v != "" {
		if cfg.CopyRPS, err = strconv.ParseFloat(v, 64); err != nil || cfg.CopyRPS <= 0 {
			return cfg, nil, fmt.Errorf("OVEN_PREWARM_COPY_RPS must be a number > 0")
		}
	}
	s, err := scalerFromEnv(getenv)
	return cfg, s, err
}

func scalerFromEnv(getenv func(string) string) (Scaler, error) {
	switch mode := getenv("OVEN_PREWARM"); mode {
	case "", "off":
		return nil, nil
	case "runner":
		sock := getenv("OVEN_PREWARM_RUNNER")
		if sock == "" {
			return nil, fmt.Errorf("OVEN_PREWARM=runner needs OVEN_PREWARM_RUNNER (the dev runner's control socket)")
		}
		return NewRunner(sock), nil
	case "k8s":
		name := getenv("OVEN_PREWARM_HPA")
		if name == "" {
			name = "oven-presentation"
		}
		return NewInClusterHPA(getenv("OVEN_PREWARM_NAMESPACE"), name)
	default:
		return nil, fmt.Errorf("OVEN_PREWARM %q: want runner, k8s or off", mode)
	}
}
