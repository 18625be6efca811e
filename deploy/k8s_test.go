package deploy_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestKubernetesBase parses every manifest of deploy/k8s/base and checks the stack they
// describe against itself and against the settings the binaries read.
func TestKubernetesBase(t *testing.T) {
	kust := parseYAMLFile(t, "k8s/base/kustomization.yaml")[0]
	listed := map[string]bool{}
	var objs []obj
	for _, r := range list(kust, "resources") {
		listed[r.(string)] = true
		objs = append(objs, parseYAMLFile(t, filepath.Join("k8s/base", r.(string)))...)
	}
	files, _ := filepath.Glob("k8s/base/*.yaml")
	for _, f := range files {
		name := filepath.Base(f)
		if !listed[name] && name != "kustomization.yaml" && name != "secret.example.yaml" {
			t.Errorf("%s is not listed in k8s/base/kustomization.yaml", f)
		}
	}
	checkStack(t, objs)
}

// TestKustomizeBuilds builds the base and the example overlay with kubectl's kustomize
// (when kubectl is installed) and checks what comes out.
func TestKustomizeBuilds(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not installed; kustomize builds not checked")
	}
	for _, dir := range []string{"k8s/base", "k8s/overlays/example"} {
		t.Run(dir, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, kubectl, "kustomize", dir).Output()
			if err != nil {
				var stderr []byte
				if ee, ok := err.(*exec.ExitError); ok {
					stderr = ee.Stderr
				}
				t.Fatalf("kubectl kustomize %s: %v\n%s", dir, err, stderr)
			}
			objs := parseYAML(t, out)
			checkStack(t, objs)
			for _, o := range objs {
				if str(o, "kind") != "Namespace" && str(o, "metadata", "namespace") != "oven" {
					t.Errorf("%s/%s is not in namespace oven", str(o, "kind"), str(o, "metadata", "name"))
				}
			}
			if dir != "k8s/overlays/example" {
				return
			}
			hpa := find(t, objs, "HorizontalPodAutoscaler", "oven-presentation")
			if got := str(hpa, "spec", "metrics", 1, "pods", "metric", "name"); got != "oven_http_requests_per_second" {
				t.Errorf("the rps-autoscaling component did not add the custom metric: %v", get(hpa, "spec", "metrics"))
			}
			for _, o := range objs {
				for _, c := range containers(o) {
					if img := str(c, "image"); img == "oven" {
						t.Errorf("%s/%s: image %q left unset by the overlay", str(o, "kind"), str(o, "metadata", "name"), img)
					}
				}
			}
		})
	}
}

// checkStack checks a set of Kubernetes objects (the base's files or a kustomize build).
func checkStack(t *testing.T, objs []obj) {
	t.Helper()
	secret := parseYAMLFile(t, "k8s/base/secret.example.yaml")[0]
	settings := settingsSource(t)
	cm := find(t, objs, "ConfigMap", "oven-config")
	cmKeys, _ := get(cm, "data").(obj)
	secretKeys, _ := get(secret, "stringData").(obj)
	for _, keys := range []obj{cmKeys, secretKeys} {
		for _, k := range sortedKeys(keys) {
			if !strings.Contains(settings, `"`+k+`"`) {
				t.Errorf("setting %s is read by no binary", k)
			}
		}
	}
	for _, o := range objs {
		if podSpec(o) != nil {
			checkPod(t, o, settings, secretKeys)
		}
	}
	for _, o := range objs {
		if str(o, "kind") == "Service" {
			checkService(t, objs, o)
		}
		if str(o, "kind") == "PodDisruptionBudget" && len(selected(objs, get(o, "spec", "selector", "matchLabels").(obj))) == 0 {
			t.Errorf("PodDisruptionBudget %s selects no workload", str(o, "metadata", "name"))
		}
	}
	checkShards(t, objs, cm)
	checkPresentation(t, objs)
	checkPrewarm(t, objs)
}

// settingsSource is the text of the two binaries' composition roots, where every OVEN_
// setting is read.
func settingsSource(t *testing.T) string {
	var b strings.Builder
	for _, f := range []string{"../application/main.go", "../presentation/main.go"} {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(src)
	}
	return b.String()
}

func find(t *testing.T, objs []obj, kind, name string) obj {
	t.Helper()
	for _, o := range objs {
		if str(o, "kind") == kind && str(o, "metadata", "name") == name {
			return o
		}
	}
	t.Fatalf("no %s %s", kind, name)
	return nil
}

func podSpec(o obj) obj {
	var p any
	switch str(o, "kind") {
	case "Deployment", "StatefulSet", "Job":
		p = get(o, "spec", "template", "spec")
	case "CronJob":
		p = get(o, "spec", "jobTemplate", "spec", "template", "spec")
	}
	m, _ := p.(obj)
	return m
}

func podLabels(o obj) obj {
	path := []any{"spec", "template", "metadata", "labels"}
	if str(o, "kind") == "CronJob" {
		path = []any{"spec", "jobTemplate", "spec", "template", "metadata", "labels"}
	}
	m, _ := get(o, path...).(obj)
	return m
}

func containers(o obj) []obj {
	var out []obj
	for _, c := range list(podSpec(o), "containers") {
		out = append(out, c.(obj))
	}
	return out
}

func envValue(c obj, name string) (obj, bool) {
	for _, e := range list(c, "env") {
		if str(e, "name") == name {
			return e.(obj), true
		}
	}
	return nil, false
}

func namedPort(c obj, name string) int {
	for _, p := range list(c, "ports") {
		if str(p, "name") == name {
			return num(p, "containerPort")
		}
	}
	return 0
}

// selected returns the workloads whose pod labels include every label of sel.
func selected(objs []obj, sel obj) []obj {
	var out []obj
	for _, o := range objs {
		labels := podLabels(o)
		if podSpec(o) == nil || labels == nil || len(sel) == 0 {
			continue
		}
		ok := true
		for k, v := range sel {
			if labels[k] != v {
				ok = false
			}
		}
		if ok {
			out = append(out, o)
		}
	}
	return out
}

var envRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

func checkPod(t *testing.T, o obj, settings string, secretKeys obj) {
	t.Helper()
	what := str(o, "kind") + "/" + str(o, "metadata", "name")
	spec := podSpec(o)
	if get(spec, "securityContext", "runAsNonRoot") != true {
		t.Errorf("%s: pods do not run as non-root", what)
	}
	for _, c := range containers(o) {
		for _, kind := range []string{"requests", "limits"} {
			for _, res := range []string{"cpu", "memory"} {
				if str(c, "resources", kind, res) == "" {
					t.Errorf("%s: container %s has no %s.%s", what, str(c, "name"), kind, res)
				}
			}
		}
		if cmd := str(c, "command", 0); !strings.Contains(str(c, "image"), "kubectl") &&
			cmd != "/oven/application" && cmd != "/oven/presentation" {
			t.Errorf("%s: command %q is neither binary of the image", what, cmd)
		}
		for _, ef := range list(c, "envFrom") {
			if n := str(ef, "configMapRef", "name"); n != "" && n != "oven-config" {
				t.Errorf("%s: envFrom unknown ConfigMap %q", what, n)
			}
		}
		defined := map[string]bool{}
		for _, e := range list(c, "env") {
			name := str(e, "name")
			if strings.HasPrefix(name, "OVEN_") && !strings.Contains(settings, `"`+name+`"`) {
				t.Errorf("%s: env %s is read by no binary", what, name)
			}
			if ref := get(e, "valueFrom", "secretKeyRef"); ref != nil {
				if str(ref, "name") != "oven-secrets" || secretKeys[str(ref, "key")] == nil {
					t.Errorf("%s: env %s refers to %v, not in secret.example.yaml", what, name, ref)
				}
			}
			for _, m := range envRef.FindAllStringSubmatch(str(e, "value"), -1) {
				if !defined[m[1]] {
					t.Errorf("%s: env %s uses $(%s) before it is defined", what, name, m[1])
				}
			}
			defined[name] = true
		}
		for _, arg := range list(c, "args") {
			for _, m := range envRef.FindAllStringSubmatch(arg.(string), -1) {
				if !defined[m[1]] {
					t.Errorf("%s: args use $(%s), which is not defined", what, m[1])
				}
			}
		}
		for _, probe := range []string{"startupProbe", "readinessProbe", "livenessProbe"} {
			if port, ok := get(c, probe, "httpGet", "port").(string); ok && namedPort(c, port) == 0 {
				t.Errorf("%s: %s uses port %q, which the container does not name", what, probe, port)
			}
		}
	}
}

func checkService(t *testing.T, objs []obj, svc obj) {
	t.Helper()
	name := str(svc, "metadata", "name")
	sel, _ := get(svc, "spec", "selector").(obj)
	ws := selected(objs, sel)
	if len(ws) == 0 {
		t.Errorf("Service %s selects no workload", name)
		return
	}
	for _, p := range list(svc, "spec", "ports") {
		tp, ok := get(p, "targetPort").(string)
		if !ok {
			continue
		}
		found := false
		for _, c := range containers(ws[0]) {
			found = found || namedPort(c, tp) != 0
		}
		if !found {
			t.Errorf("Service %s: targetPort %q is not a named container port", name, tp)
		}
	}
}

// checkShards checks that the StatefulSet's pods, the headless Service and OVEN_SHARDS
// agree: pod oven-application-N is shard sN at its stable DNS name.
func checkShards(t *testing.T, objs []obj, cm obj) {
	t.Helper()
	sts := find(t, objs, "StatefulSet", "oven-application")
	svcName := str(sts, "spec", "serviceName")
	svc := find(t, objs, "Service", svcName)
	if str(svc, "spec", "clusterIP") != "None" {
		t.Errorf("Service %s is not headless", svcName)
	}
	c := containers(sts)[0]
	grpcPort, metricsPort := namedPort(c, "grpc"), namedPort(c, "metrics")
	for env, port := range map[string]int{"OVEN_GRPC_ADDR": grpcPort, "OVEN_METRICS_ADDR": metricsPort} {
		e, _ := envValue(c, env)
		if !strings.HasSuffix(str(e, "value"), ":"+strconv.Itoa(port)) || port == 0 {
			t.Errorf("%s = %q does not listen on the container port %d", env, str(e, "value"), port)
		}
	}
	idx, _ := envValue(c, "POD_INDEX")
	if got := str(idx, "valueFrom", "fieldRef", "fieldPath"); got != "metadata.labels['apps.kubernetes.io/pod-index']" {
		t.Errorf("POD_INDEX comes from %q, want the pod-index label", got)
	}
	if id, _ := envValue(c, "OVEN_SHARD_ID"); str(id, "value") != "s$(POD_INDEX)" {
		t.Errorf("OVEN_SHARD_ID = %q, want s$(POD_INDEX)", str(id, "value"))
	}
	var want []string
	for i := range num(sts, "spec", "replicas") {
		want = append(want, fmt.Sprintf("s%d=%s-%d.%s:%d", i, str(sts, "metadata", "name"), i, svcName, grpcPort))
	}
	if got := str(cm, "data", "OVEN_SHARDS"); got != strings.Join(want, ",") {
		t.Errorf("OVEN_SHARDS = %q\nwant          %q (one entry per StatefulSet replica)", got, strings.Join(want, ","))
	}
	if str(c, "readinessProbe", "httpGet", "path") != "/healthz" || str(c, "readinessProbe", "httpGet", "port") != "metrics" {
		t.Errorf("shard readiness is not /healthz on the metrics port: %v", get(c, "readinessProbe"))
	}
	// The shard drains gRPC for up to 10 s, then closes its stores.
	if g := num(sts, "spec", "template", "spec", "terminationGracePeriodSeconds"); g < 15 {
		t.Errorf("shard terminationGracePeriodSeconds = %d, want ≥ 15", g)
	}
}

func checkPresentation(t *testing.T, objs []obj) {
	t.Helper()
	dep := find(t, objs, "Deployment", "oven-presentation")
	if get(dep, "spec", "replicas") != nil {
		t.Error("the presentation Deployment sets replicas; the HPA owns them")
	}
	c := containers(dep)[0]
	addr, _ := envValue(c, "OVEN_HTTP_ADDR")
	if p := namedPort(c, "http"); p == 0 || !strings.HasSuffix(str(addr, "value"), ":"+strconv.Itoa(p)) {
		t.Errorf("OVEN_HTTP_ADDR %q does not match the http port %d", str(addr, "value"), p)
	}
	if _, ok := envValue(c, "OVEN_TOKEN_KEY"); !ok {
		t.Error("the presentation has no shared OVEN_TOKEN_KEY: each copy would sign with its own key")
	}
	// preStop, then the 10 s HTTP drain (presentation/httpapi shutdownTimeout).
	need := num(c, "lifecycle", "preStop", "sleep", "seconds") + 10
	if g := num(dep, "spec", "template", "spec", "terminationGracePeriodSeconds"); g < need+5 {
		t.Errorf("presentation terminationGracePeriodSeconds = %d, want ≥ %d", g, need+5)
	}
	hpa := find(t, objs, "HorizontalPodAutoscaler", "oven-presentation")
	if ref := get(hpa, "spec", "scaleTargetRef").(obj); ref["kind"] != "Deployment" || ref["name"] != "oven-presentation" {
		t.Errorf("the HPA scales %v", ref)
	}
	if min, max := num(hpa, "spec", "minReplicas"), num(hpa, "spec", "maxReplicas"); min < 2 || min > max {
		t.Errorf("HPA replicas %d..%d: want 2 ≤ min ≤ max (the PDB needs two to allow a disruption)", min, max)
	}
}

// checkPrewarm checks that the pre-warm CronJobs may patch the HPA and move its floor
// within its bounds, and back to where it was.
func checkPrewarm(t *testing.T, objs []obj) {
	t.Helper()
	hpa := find(t, objs, "HorizontalPodAutoscaler", "oven-presentation")
	min, max := num(hpa, "spec", "minReplicas"), num(hpa, "spec", "maxReplicas")
	role := find(t, objs, "Role", "oven-prewarm")
	allowed := false
	for _, r := range list(role, "rules") {
		s := fmt.Sprint(r)
		allowed = allowed || strings.Contains(s, "horizontalpodautoscalers") && strings.Contains(s, "patch") &&
			strings.Contains(s, "oven-presentation") && strings.Contains(s, "autoscaling")
	}
	if !allowed {
		t.Errorf("Role oven-prewarm does not allow patching the HPA: %v", get(role, "rules"))
	}
	binding := find(t, objs, "RoleBinding", "oven-prewarm")
	if str(binding, "roleRef", "name") != "oven-prewarm" || str(binding, "subjects", 0, "name") != "oven-prewarm" {
		t.Errorf("RoleBinding oven-prewarm does not bind the Role to the ServiceAccount: %v", binding)
	}
	find(t, objs, "ServiceAccount", "oven-prewarm")
	for _, tc := range []struct {
		name     string
		ok       func(n int) bool
		expected string
	}{
		{"oven-prewarm-up", func(n int) bool { return n > min && n <= max }, fmt.Sprintf("in (%d, %d]", min, max)},
		{"oven-prewarm-down", func(n int) bool { return n == min }, fmt.Sprintf("= %d, the HPA's minReplicas", min)},
	} {
		cj := find(t, objs, "CronJob", tc.name)
		if str(cj, "spec", "jobTemplate", "spec", "template", "spec", "serviceAccountName") != "oven-prewarm" {
			t.Errorf("%s does not run as oven-prewarm", tc.name)
		}
		if str(cj, "spec", "schedule") == "" || str(cj, "spec", "timeZone") == "" {
			t.Errorf("%s has no schedule with a time zone", tc.name)
		}
		c := containers(cj)[0]
		e, _ := envValue(c, "PREWARM_MIN_REPLICAS")
		n, err := strconv.Atoi(str(e, "value"))
		if err != nil || !tc.ok(n) {
			t.Errorf("%s sets minReplicas to %q, want a number %s", tc.name, str(e, "value"), tc.expected)
		}
		args := fmt.Sprint(list(c, "args"))
		if !strings.Contains(args, "horizontalpodautoscaler/oven-presentation") || !strings.Contains(args, `"minReplicas":$(PREWARM_MIN_REPLICAS)`) {
			t.Errorf("%s does not patch the HPA's minReplicas: %s", tc.name, args)
		}
	}
}
