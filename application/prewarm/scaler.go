package prewarm

import "context"

// Scaler moves the presentation tier's floor: the fewest copies it may run. Above the
// floor the tier's own autoscaling (the HPA, or the dev runner's fixed count) decides.
//
// Kubernetes: HPA patches the presentation HPA's minReplicas (client-go). make run:
// Runner asks the dev runner, over its control socket, to add or remove presentation
// copies behind its haproxy.
type Scaler interface {
	// SetFloor makes floor the fewest copies; it returns once the request is accepted
	// (not once the copies serve). floor ≥ 1.
	SetFloor(ctx context.Context, floor int) error
	// Current is how many copies run now (the HPA's current replicas; the runner's
	// live presentation processes).
	Current(ctx context.Context) (int, error)
}
