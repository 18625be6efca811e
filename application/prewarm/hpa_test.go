package prewarm_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/prewarm"
)

// presentationHPA is an HPA as presentation.yaml and the rps-autoscaling component
// make it: 2..40 copies on CPU and requests per second, 5 running now.
func presentationHPA() *autoscalingv2.HorizontalPodAutoscaler {
	cpu := int32(70)
	rps := resource.MustParse("50")
	return &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Namespace: "oven", Name: "oven-presentation"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{
				APIVersion: "apps/v1", Kind: "Deployment", Name: "oven-presentation",
			},
			MinReplicas: new(int32(2)),
			MaxReplicas: 40,
			Metrics: []autoscalingv2.MetricSpec{
				{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
					Name:   corev1.ResourceCPU,
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: &cpu},
				}},
				{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricSource{
					Metric: autoscalingv2.MetricIdentifier{Name: "oven_http_requests_per_second"},
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: &rps},
				}},
			},
		},
		Status: autoscalingv2.HorizontalPodAutoscalerStatus{CurrentReplicas: 5, DesiredReplicas: 5},
	}
}

func newHPA(objs ...*autoscalingv2.HorizontalPodAutoscaler) (*fake.Clientset, *prewarm.HPA) {
	cs := fake.NewClientset()
	for _, o := range objs {
		if err := cs.Tracker().Add(o); err != nil {
			panic(err)
		}
	}
	return cs, &prewarm.HPA{Client: cs, Namespace: "oven", Name: "oven-presentation"}
}

func TestHPASetFloor(t *testing.T) {
	for _, tc := range []struct {
		name  string
		floor int
		want  int32
	}{
		{"raises", 16, 16},
		{"lowers back", 2, 2},
		{"at maxReplicas", 40, 40},
		{"clamped to maxReplicas", 100, 40},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs, h := newHPA(presentationHPA())
			if err := h.SetFloor(context.Background(), tc.floor); err != nil {
				t.Fatal(err)
			}
			got, err := cs.AutoscalingV2().HorizontalPodAutoscalers("oven").Get(context.Background(), "oven-presentation", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			// Only minReplicas moved: the metrics and the rest of the spec survive.
			want := presentationHPA().Spec
			want.MinReplicas = &tc.want
			if diff := cmp.Diff(want, got.Spec); diff != "" {
				t.Errorf("spec after SetFloor(%d) (-want +got):\n%s", tc.floor, diff)
			}
			checkPatch(t, cs, tc.want)
		})
	}
}

// checkPatch checks that the one write cs saw is a JSON merge patch of the HPA that
// sets spec.minReplicas to want and names no other field.
func checkPatch(t *testing.T, cs *fake.Clientset, want int32) {
	t.Helper()
	var patches []k8stesting.PatchAction
	for _, a := range cs.Actions() {
		switch a := a.(type) {
		case k8stesting.PatchAction:
			patches = append(patches, a)
		case k8stesting.GetAction:
		default:
			t.Errorf("unexpected %s %s", a.GetVerb(), a.GetResource().Resource)
		}
	}
	if len(patches) != 1 {
		t.Fatalf("%d patches, want 1", len(patches))
	}
	p := patches[0]
	if p.GetResource().Resource != "horizontalpodautoscalers" || p.GetResource().Version != "v2" ||
		p.GetNamespace() != "oven" || p.GetName() != "oven-presentation" {
		t.Errorf("patched %v %s/%s", p.GetResource(), p.GetNamespace(), p.GetName())
	}
	if p.GetPatchType() != types.MergePatchType {
		t.Errorf("patch type %s, want %s", p.GetPatchType(), types.MergePatchType)
	}
	var body map[string]any
	if err := json.Unmarshal(p.GetPatch(), &body); err != nil {
		t.Fatalf("patch %s: %v", p.GetPatch(), err)
	}
	wantBody := map[string]any{"spec": map[string]any{"minReplicas": float64(want)}}
	if diff := cmp.Diff(wantBody, body); diff != "" {
		t.Errorf("patch (-want +got):\n%s", diff)
	}
}

func TestHPASetFloorBelowOne(t *testing.T) {
	for _, floor := range []int{0, -3} {
		cs, h := newHPA(presentationHPA())
		if err := h.SetFloor(context.Background(), floor); oven.ErrorCode(err) != oven.EInvalid {
			t.Errorf("SetFloor(%d) = %v, want %s", floor, err, oven.EInvalid)
		}
		if n := len(cs.Actions()); n != 0 {
			t.Errorf("SetFloor(%d) made %d API calls, want none", floor, n)
		}
	}
}

func TestHPAMissing(t *testing.T) {
	other := presentationHPA()
	other.Name = "someone-else"
	cs, h := newHPA(other)
	if err := h.SetFloor(context.Background(), 16); oven.ErrorCode(err) != oven.ENotFound {
		t.Errorf("SetFloor = %v, want %s", err, oven.ENotFound)
	}
	if _, err := h.Current(context.Background()); oven.ErrorCode(err) != oven.ENotFound {
		t.Errorf("Current = %v, want %s", err, oven.ENotFound)
	}
	for _, a := range cs.Actions() {
		if a.GetVerb() != "get" {
			t.Errorf("unexpected %s on a missing HPA", a.GetVerb())
		}
	}
}

func TestHPACurrent(t *testing.T) {
	_, h := newHPA(presentationHPA())
	n, err := h.Current(context.Background())
	if err != nil || n != 5 {
		t.Errorf("Current = %d, %v; want 5 (status.currentReplicas)", n, err)
	}
}

// TestHPATimeout checks that a call without a deadline gives up after Timeout against
// an API server that never answers.
func TestHPATimeout(t *testing.T) {
	stuck := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer stuck.Close()
	client, err := kubernetes.NewForConfig(&rest.Config{Host: stuck.URL})
	if err != nil {
		t.Fatal(err)
	}
	h := &prewarm.HPA{Client: client, Namespace: "oven", Name: "oven-presentation", Timeout: 50 * time.Millisecond}
	if _, err := h.Current(context.Background()); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Current = %v, want %v", err, context.DeadlineExceeded)
	}
	if err := h.SetFloor(context.Background(), 16); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("SetFloor = %v, want %v", err, context.DeadlineExceeded)
	}
}

func TestNewInClusterHPAOutsideACluster(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	if _, err := prewarm.NewInClusterHPA("oven", "oven-presentation"); !errors.Is(err, rest.ErrNotInCluster) {
		t.Errorf("NewInClusterHPA = %v, want %v", err, rest.ErrNotInCluster)
	}
}
