package prewarm

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/ovengames/oven"
)

// DefaultTimeout bounds an HPA call whose context has no deadline.
const DefaultTimeout = 10 * time.Second

// namespaceFile is where Kubernetes mounts the pod's own namespace.
const namespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// HPA is the Scaler of a Kubernetes deployment: the floor is the minReplicas of one
// autoscaling/v2 HorizontalPodAutoscaler. It needs get and patch on that HPA only.
type HPA struct {
	Client    kubernetes.Interface
	Namespace string
	Name      string
	// Timeout bounds each call whose context has no deadline; 0 means DefaultTimeout.
	Timeout time.Duration
}

var _ Scaler = (*HPA)(nil)

// NewInClusterHPA returns an HPA that talks to the API server with the pod's service
// account. An empty namespace means the pod's own.
func NewInClusterHPA(namespace, name string) (*HPA, error) {
	cfg, err := rest.InClusterConfig()
	if err != nil {
		return nil, fmt.Errorf("prewarm: in-cluster config: %w", err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("prewarm: kubernetes client: %w", err)
	}
	if namespace == "" {
		b, err := os.ReadFile(namespaceFile)
		if err != nil {
			return nil, fmt.Errorf("prewarm: pod namespace: %w", err)
		}
		namespace = strings.TrimSpace(string(b))
	}
	return &HPA{Client: client, Namespace: namespace, Name: name}, nil
}

// SetFloor patches the HPA's spec.minReplicas to floor, clamped to its spec.maxReplicas
// without error: the floor is a wish, and the HPA refuses minReplicas above
// maxReplicas. The JSON merge patch names minReplicas only, so the rest of the spec
// (metrics, behaviour) is left as the cluster has it. Errors: invalid_argument for
// floor < 1, not_found when the HPA does not exist, internal otherwise.
func (h *HPA) SetFloor(ctx context.Context, floor int) error {
	if floor < 1 {
		return oven.Errorf(oven.EInvalid, "prewarm: floor %d is below 1", floor)
	}
	ctx, cancel := h.bound(ctx)
	defer cancel()
	hpa, err := h.get(ctx)
	if err != nil {
		return err
	}
	floor = min(floor, int(hpa.Spec.MaxReplicas))
	patch := fmt.Appendf(nil, `{"spec":{"minReplicas":%d}}`, floor)
	_, err = h.Client.AutoscalingV2().HorizontalPodAutoscalers(h.Namespace).
		Patch(ctx, h.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	return h.wrap("patch", err)
}

// Current returns the HPA's status.currentReplicas. Errors: not_found when the HPA
// does not exist, internal otherwise.
func (h *HPA) Current(ctx context.Context) (int, error) {
	ctx, cancel := h.bound(ctx)
	defer cancel()
	hpa, err := h.get(ctx)
	if err != nil {
		return 0, err
	}
	return int(hpa.Status.CurrentReplicas), nil
}

func (h *HPA) get(ctx context.Context) (*autoscalingv2.HorizontalPodAutoscaler, error) {
	hpa, err := h.Client.AutoscalingV2().HorizontalPodAutoscalers(h.Namespace).
		Get(ctx, h.Name, metav1.GetOptions{})
	return hpa, h.wrap("get", err)
}

// bound gives ctx the HPA's timeout unless it has a deadline already.
func (h *HPA) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	d := h.Timeout
	if d <= 0 {
		d = DefaultTimeout
	}
	return context.WithTimeout(ctx, d)
}

// wrap names the HPA in err and gives a missing HPA the not_found code.
func (h *HPA) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	what := fmt.Sprintf("prewarm: %s HorizontalPodAutoscaler %s/%s", op, h.Namespace, h.Name)
	if apierrors.IsNotFound(err) {
		return &oven.Error{Code: oven.ENotFound, Message: what, Cause: err}
	}
	return fmt.Errorf("%s: %w", what, err)
}
