package deploy_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
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

// TestKustomizeBuilds builds the base and the overlays with kubectl's kustomize (when
// kubectl is installed) and checks what comes out.
func TestKustomizeBuilds(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not installed; kustomize builds not checked")
	}
	for _, dir := range []string{"k8s/base", "k8s/overlays/example", "k8s/overlays/external-etcd"} {
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
			if dir == "k8s/base" {
				return
			}
			for _, o := range objs {
				for _, c := range containers(o) {
					if img := str(c, "image"); img == "oven" {
						t.Errorf("%s/%s: image %q left unset by the overlay", str(o, "kind"), str(o, "metadata", "name"), img)
					}
				}
			}
			if dir == "k8s/overlays/external-etcd" {
				for _, o := range objs {
					if str(o, "metadata", "labels", "app.kubernetes.io/component") == "etcd" {
						t.Errorf("the external-etcd overlay still has %s/%s", str(o, "kind"), str(o, "metadata", "name"))
					}
				}
				return
			}
			hpa := find(t, objs, "HorizontalPodAutoscaler", "oven-presentation")
			if got := str(hpa, "spec", "metrics", 1, "pods", "metric", "name"); got != "oven_http_requests_per_second" {
				t.Errorf("the rps-autoscaling component did not add the custom metric: %v", get(hpa, "spec", "metrics"))
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
	checkMembership(t, objs, cm)
	checkShards(t, objs)
	checkEtcd(t, objs, cm)
	checkPresentation(t, objs)
	checkPrewarm(t, objs)
}

// settingsSource is the text of the two binaries' composition roots, where every OVEN_
// setting is read, and of the readers they call with os.Getenv.
func settingsSource(t *testing.T) string {
	var b strings.Builder
	for _, f := range []string{"../application/main.go", "../presentation/main.go", "../application/prewarm/env.go"} {
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
	o := lookup(objs, kind, name)
	if o == nil {
		t.Fatalf("no %s %s", kind, name)
	}
	return o
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
		if cmd := str(c, "command", 0); !commandOfImage(str(c, "image"), cmd) {
			t.Errorf("%s: command %q is not a binary of image %s", what, cmd, str(c, "image"))
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

// etcdImage is an official etcd image pinned to a v3.5 or v3.6 release.
var etcdImage = regexp.MustCompile(`^(quay\.io/coreos/etcd:v3\.[56]\.\d+|registry\.k8s\.io/etcd:3\.[56]\.\d+-\d+)$`)

// commandOfImage reports whether cmd is a binary that image ships.
func commandOfImage(image, cmd string) bool {
	if etcdImage.MatchString(image) {
		return cmd == "/usr/local/bin/etcd"
	}
	return cmd == "/oven/application" || cmd == "/oven/presentation"
}

// lookup is find for an object that may be absent (nil then).
func lookup(objs []obj, kind, name string) obj {
	for _, o := range objs {
		if str(o, "kind") == kind && str(o, "metadata", "name") == name {
			return o
		}
	}
	return nil
}

// containerEnv is what a container's environment holds: the keys of the ConfigMaps it
// loads (envFrom) overridden by its own env entries (their value, or "<from …>").
func containerEnv(c obj, objs []obj) map[string]string {
	out := map[string]string{}
	for _, ef := range list(c, "envFrom") {
		if cm := lookup(objs, "ConfigMap", str(ef, "configMapRef", "name")); cm != nil {
			data, _ := get(cm, "data").(obj)
			for k, v := range data {
				out[k], _ = v.(string)
			}
		}
	}
	for _, e := range list(c, "env") {
		v := str(e, "value")
		if src := get(e, "valueFrom"); src != nil {
			v = fmt.Sprint("<from ", src, ">")
		}
		out[str(e, "name")] = v
	}
	return out
}

// needsMembership reports whether a container runs a process that routes by, or takes
// part in, shard membership: a shard (application serve) or a presentation.
func needsMembership(c obj) bool {
	cmd := fmt.Sprint(list(c, "command"), list(c, "args"))
	return cmd == "[/oven/application serve] []" || cmd == "[/oven/application] [serve]" ||
		strings.HasPrefix(cmd, "[/oven/presentation]")
}

// checkMembership checks that every shard and presentation finds the others through
// etcd and that no static shard list is left to keep in step with the StatefulSet.
func checkMembership(t *testing.T, objs []obj, cm obj) {
	t.Helper()
	if _, ok := get(cm, "data").(obj)["OVEN_SHARDS"]; ok {
		t.Error("ConfigMap oven-config sets OVEN_SHARDS: membership comes from etcd")
	}
	members := 0
	for _, o := range objs {
		for _, c := range containers(o) {
			what := str(o, "kind") + "/" + str(o, "metadata", "name")
			env := containerEnv(c, objs)
			if _, ok := env["OVEN_SHARDS"]; ok {
				t.Errorf("%s sets OVEN_SHARDS: membership comes from etcd", what)
			}
			if !needsMembership(c) {
				continue
			}
			members++
			if env["OVEN_ETCD_ENDPOINTS"] == "" {
				t.Errorf("%s (%v) gets no OVEN_ETCD_ENDPOINTS", what, list(c, "command"))
			}
			if ttl, ok := env["OVEN_LEASE_TTL"]; ok {
				if d, err := time.ParseDuration(ttl); err != nil || d < 2*time.Second {
					t.Errorf("%s: OVEN_LEASE_TTL %q is not a duration ≥ 2s (application/main.go refuses it)", what, ttl)
				}
			}
		}
	}
	if members < 2 {
		t.Errorf("found %d shard or presentation containers, want both tiers", members)
	}
}

// shardShutdown is the longest a shard takes from SIGTERM to exit: the sum of the
// timeouts of its shutdown steps in application/boot/boot.go (hand the slots over,
// drain gRPC calls, stop the metrics server).
func shardShutdown(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("../application/boot/boot.go")
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	i := strings.Index(src, `log.Info("shard stopping")`)
	if i < 0 {
		t.Fatal(`application/boot/boot.go no longer logs "shard stopping": update shardShutdown`)
	}
	body := src[i:]
	if j := strings.Index(body, "\n}\n"); j >= 0 {
		body = body[:j]
	}
	total := 0
	for _, m := range regexp.MustCompile(`(\d+)\s*\*\s*time\.Second`).FindAllStringSubmatch(body, -1) {
		n, _ := strconv.Atoi(m[1])
		total += n
	}
	if total == 0 {
		t.Fatal("found no shutdown timeouts after \"shard stopping\" in application/boot/boot.go")
	}
	return total
}

// antiAffinity reports whether pods of o are kept off each other's nodes, required or
// preferred.
func antiAffinity(o obj) (required, preferred bool) {
	aa := get(podSpec(o), "affinity", "podAntiAffinity")
	own := podLabels(o)
	matches := func(term any) bool {
		sel, _ := get(term, "labelSelector", "matchLabels").(obj)
		if str(term, "topologyKey") != "kubernetes.io/hostname" || len(sel) == 0 {
			return false
		}
		for k, v := range sel {
			if own[k] != v {
				return false
			}
		}
		return true
	}
	for _, term := range list(aa, "requiredDuringSchedulingIgnoredDuringExecution") {
		required = required || matches(term)
	}
	for _, w := range list(aa, "preferredDuringSchedulingIgnoredDuringExecution") {
		preferred = preferred || matches(get(w, "podAffinityTerm"))
	}
	return required, preferred
}

// budget returns the PodDisruptionBudget that selects workload o (nil if none).
func budget(objs []obj, o obj) obj {
	for _, p := range objs {
		if str(p, "kind") != "PodDisruptionBudget" {
			continue
		}
		sel, _ := get(p, "spec", "selector", "matchLabels").(obj)
		for _, w := range selected(objs, sel) {
			if str(w, "kind") == str(o, "kind") && str(w, "metadata", "name") == str(o, "metadata", "name") {
				return p
			}
		}
	}
	return nil
}

// fieldRefEnv checks that env name of c comes from the pod's field path.
func fieldRefEnv(t *testing.T, what string, c obj, name, path string) {
	t.Helper()
	e, _ := envValue(c, name)
	if got := str(e, "valueFrom", "fieldRef", "fieldPath"); got != path {
		t.Errorf("%s: %s comes from %q, want %s", what, name, got, path)
	}
}

// checkShards checks the StatefulSet of shards: each pod is a shard named after itself,
// registered in etcd under its stable DNS name, and `kubectl scale` alone sets their
// number (no list, no replicas in the manifest for an apply to set back).
func checkShards(t *testing.T, objs []obj) {
	t.Helper()
	sts := find(t, objs, "StatefulSet", "oven-application")
	svcName := str(sts, "spec", "serviceName")
	svc := find(t, objs, "Service", svcName)
	if str(svc, "spec", "clusterIP") != "None" || get(svc, "spec", "publishNotReadyAddresses") != true {
		t.Errorf("Service %s is not headless with publishNotReadyAddresses: a shard's name must resolve once it registers", svcName)
	}
	if r := get(sts, "spec", "replicas"); r != nil {
		t.Errorf("StatefulSet oven-application sets replicas %v: kubectl scale owns the count, an apply would set it back", r)
	}
	c := containers(sts)[0]
	grpcPort, metricsPort := namedPort(c, "grpc"), namedPort(c, "metrics")
	for env, port := range map[string]int{"OVEN_GRPC_ADDR": grpcPort, "OVEN_METRICS_ADDR": metricsPort} {
		e, _ := envValue(c, env)
		if !strings.HasSuffix(str(e, "value"), ":"+strconv.Itoa(port)) || port == 0 {
			t.Errorf("%s = %q does not listen on the container port %d", env, str(e, "value"), port)
		}
	}
	fieldRefEnv(t, "shards", c, "POD_NAME", "metadata.name")
	if id, _ := envValue(c, "OVEN_SHARD_ID"); str(id, "value") != "$(POD_NAME)" {
		t.Errorf("OVEN_SHARD_ID = %q, want $(POD_NAME)", str(id, "value"))
	}
	adv, _ := envValue(c, "OVEN_GRPC_ADVERTISE")
	want := regexp.MustCompile(`^\$\(POD_NAME\)\.` + regexp.QuoteMeta(svcName) + `(\.\$\(POD_NAMESPACE\)\.svc)?:` + strconv.Itoa(grpcPort) + `$`)
	if !want.MatchString(str(adv, "value")) {
		t.Errorf("OVEN_GRPC_ADVERTISE = %q, want the pod's name under Service %s on port %d", str(adv, "value"), svcName, grpcPort)
	}
	if strings.Contains(str(adv, "value"), "$(POD_NAMESPACE)") {
		fieldRefEnv(t, "shards", c, "POD_NAMESPACE", "metadata.namespace")
	}
	if str(c, "readinessProbe", "httpGet", "path") != "/healthz" || str(c, "readinessProbe", "httpGet", "port") != "metrics" {
		t.Errorf("shard readiness is not /healthz on the metrics port: %v", get(c, "readinessProbe"))
	}
	// SIGTERM drains the shard: it must finish before the kubelet's SIGKILL, or its
	// slots wait for the lease to run out instead of moving at once.
	need := max(shardShutdown(t)+5, 30)
	if g := num(sts, "spec", "template", "spec", "terminationGracePeriodSeconds"); g < need {
		t.Errorf("shard terminationGracePeriodSeconds = %d, want ≥ %d (the shutdown in application/boot/boot.go takes up to %d s)", g, need, shardShutdown(t))
	}
	if req, pref := antiAffinity(sts); !req && !pref {
		t.Error("shards have no pod anti-affinity on kubernetes.io/hostname")
	}
	if pdb := budget(objs, sts); pdb == nil || get(pdb, "spec", "maxUnavailable") != float64(1) {
		t.Errorf("shards want a PodDisruptionBudget with maxUnavailable 1, have %v", pdb)
	}
}

// checkEtcd checks the etcd that OVEN_ETCD_ENDPOINTS names: either the three-member
// StatefulSet of etcd.yaml, every member listed, or an external cluster and no etcd
// objects of Oven's own.
func checkEtcd(t *testing.T, objs []obj, cm obj) {
	t.Helper()
	var endpoints []*url.URL
	for ep := range strings.SplitSeq(str(cm, "data", "OVEN_ETCD_ENDPOINTS"), ",") {
		u, err := url.Parse(ep)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Port() == "" {
			t.Errorf("OVEN_ETCD_ENDPOINTS entry %q is not an http(s)://host:port URL", ep)
			continue
		}
		endpoints = append(endpoints, u)
	}
	sts := lookup(objs, "StatefulSet", "oven-etcd")
	if sts == nil {
		for _, u := range endpoints {
			if strings.HasPrefix(u.Hostname(), "oven-etcd-") {
				t.Errorf("OVEN_ETCD_ENDPOINTS names %s, but there is no StatefulSet oven-etcd", u.Host)
			}
		}
		return
	}
	n := num(sts, "spec", "replicas")
	if n != 3 {
		t.Errorf("etcd has %d members, want 3", n)
	}
	if str(sts, "spec", "podManagementPolicy") != "Parallel" {
		t.Error("etcd members must start together (podManagementPolicy Parallel): none is Ready before a quorum")
	}
	svcName := str(sts, "spec", "serviceName")
	svc := find(t, objs, "Service", svcName)
	if str(svc, "spec", "clusterIP") != "None" || get(svc, "spec", "publishNotReadyAddresses") != true {
		t.Errorf("Service %s is not headless with publishNotReadyAddresses: members must find each other before they are Ready", svcName)
	}
	c := containers(sts)[0]
	if !etcdImage.MatchString(str(c, "image")) {
		t.Errorf("etcd image %q is not an official v3.5/v3.6 image pinned to a release", str(c, "image"))
	}
	name := str(sts, "metadata", "name")
	client, peer := namedPort(c, "client"), namedPort(c, "peer")
	fieldRefEnv(t, "etcd", c, "POD_NAME", "metadata.name")
	var cluster, clients []string
	for i := range n {
		host := fmt.Sprintf("%s-%d.%s", name, i, svcName)
		cluster = append(cluster, fmt.Sprintf("%s-%d=http://%s:%d", name, i, host, peer))
		clients = append(clients, fmt.Sprintf("http://%s:%d", host, client))
	}
	for env, want := range map[string]string{
		"ETCD_NAME":                        "$(POD_NAME)",
		"ETCD_INITIAL_CLUSTER":             strings.Join(cluster, ","),
		"ETCD_INITIAL_CLUSTER_STATE":       "new",
		"ETCD_INITIAL_ADVERTISE_PEER_URLS": fmt.Sprintf("http://$(POD_NAME).%s:%d", svcName, peer),
		"ETCD_ADVERTISE_CLIENT_URLS":       fmt.Sprintf("http://$(POD_NAME).%s:%d", svcName, client),
		"ETCD_LISTEN_PEER_URLS":            fmt.Sprintf("http://0.0.0.0:%d", peer),
		"ETCD_LISTEN_CLIENT_URLS":          fmt.Sprintf("http://0.0.0.0:%d", client),
		"ETCD_LISTEN_METRICS_URLS":         fmt.Sprintf("http://0.0.0.0:%d", namedPort(c, "metrics")),
	} {
		if e, _ := envValue(c, env); str(e, "value") != want {
			t.Errorf("etcd %s = %q, want %q", env, str(e, "value"), want)
		}
	}
	if got := str(cm, "data", "OVEN_ETCD_ENDPOINTS"); got != strings.Join(clients, ",") {
		t.Errorf("OVEN_ETCD_ENDPOINTS = %q\nwant                %q (every etcd member)", got, strings.Join(clients, ","))
	}
	checkEtcdStorage(t, sts, c)
	if req, _ := antiAffinity(sts); !req {
		t.Error("etcd members may share a node: want required pod anti-affinity on kubernetes.io/hostname")
	}
	if pdb := budget(objs, sts); pdb == nil || num(pdb, "spec", "minAvailable") != n/2+1 {
		t.Errorf("etcd wants a PodDisruptionBudget with minAvailable %d (its quorum), have %v", n/2+1, pdb)
	}
}

// checkEtcdStorage checks that each member keeps its data on its own volume.
func checkEtcdStorage(t *testing.T, sts, c obj) {
	t.Helper()
	claims := map[string]bool{}
	for _, vct := range list(sts, "spec", "volumeClaimTemplates") {
		if str(vct, "spec", "resources", "requests", "storage") != "" {
			claims[str(vct, "metadata", "name")] = true
		}
	}
	dir, _ := envValue(c, "ETCD_DATA_DIR")
	for _, m := range list(c, "volumeMounts") {
		if claims[str(m, "name")] && strings.HasPrefix(str(dir, "value"), str(m, "mountPath")+"/") {
			return
		}
	}
	t.Errorf("etcd ETCD_DATA_DIR %q is not inside a volume from a volumeClaimTemplate", str(dir, "value"))
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

// checkPrewarm checks that the shards may move the presentation HPA's floor and
// nothing else: the pre-warming controller runs in them (no CronJobs any more), as a
// ServiceAccount whose one Role may get and patch that HPA alone.
func checkPrewarm(t *testing.T, objs []obj) {
	t.Helper()
	for _, o := range objs {
		if str(o, "kind") == "CronJob" {
			t.Errorf("CronJob %s remains: pre-warming runs in the shards", str(o, "metadata", "name"))
		}
	}
	sts := find(t, objs, "StatefulSet", "oven-application")
	hpa := prewarmTarget(t, objs, containers(sts)[0])
	spec := podSpec(sts)
	sa := str(spec, "serviceAccountName")
	if sa == "" || sa == "default" || lookup(objs, "ServiceAccount", sa) == nil {
		t.Errorf("the shards run as ServiceAccount %q, want one of their own in the render", sa)
	}
	if get(spec, "automountServiceAccountToken") != true {
		t.Error("the shards do not mount their ServiceAccount token: the controller cannot reach the API server")
	}
	role := find(t, objs, "Role", "oven-prewarm")
	checkPrewarmRole(t, role, hpa)
	checkBinding(t, objs, role, sa)
}

// prewarmTarget checks a shard container's pre-warming settings and returns the name
// of the HPA they name.
func prewarmTarget(t *testing.T, objs []obj, c obj) string {
	t.Helper()
	if e, _ := envValue(c, "OVEN_PREWARM"); str(e, "value") != "k8s" {
		t.Errorf("shards: OVEN_PREWARM = %q, want k8s", str(e, "value"))
	}
	e, _ := envValue(c, "OVEN_PREWARM_HPA")
	hpa := str(e, "value")
	if lookup(objs, "HorizontalPodAutoscaler", hpa) == nil {
		t.Errorf("shards: OVEN_PREWARM_HPA = %q names no HorizontalPodAutoscaler of the render", hpa)
	}
	fieldRefEnv(t, "shards", c, "OVEN_PREWARM_NAMESPACE", "metadata.namespace")
	if o := lookup(objs, "HorizontalPodAutoscaler", hpa); o != nil {
		// The controller sets the floor back to OVEN_PREWARM_BASE and raises it up to
		// OVEN_PREWARM_MAX: the HPA's own bounds, or it moves them.
		for env, field := range map[string]string{"OVEN_PREWARM_BASE": "minReplicas", "OVEN_PREWARM_MAX": "maxReplicas"} {
			e, _ := envValue(c, env)
			if str(e, "value") != strconv.Itoa(num(o, "spec", field)) {
				t.Errorf("shards: %s = %q, want the HPA's %s %d", env, str(e, "value"), field, num(o, "spec", field))
			}
		}
	}
	return hpa
}

// checkPrewarmRole checks that role allows get and patch on the HPA named hpa, and
// nothing else.
func checkPrewarmRole(t *testing.T, role obj, hpa string) {
	t.Helper()
	want := policyRule(obj{
		"apiGroups":     []any{"autoscaling"},
		"resources":     []any{"horizontalpodautoscalers"},
		"resourceNames": []any{hpa},
		"verbs":         []any{"get", "patch"},
	})
	rules := list(role, "rules")
	if len(rules) != 1 || policyRule(rules[0]) != want {
		t.Errorf("Role %s rules = %v\nwant %s (get and patch on HPA %s only)", str(role, "metadata", "name"), rules, want, hpa)
	}
}

// policyRule renders every field of an RBAC rule, each list sorted, for comparison.
func policyRule(r any) string {
	var fields []string
	for _, k := range []string{"apiGroups", "resources", "resourceNames", "verbs", "nonResourceURLs"} {
		var vs []string
		for _, v := range list(r, k) {
			vs = append(vs, fmt.Sprint(v))
		}
		slices.Sort(vs)
		fields = append(fields, k+"="+strings.Join(vs, ","))
	}
	return strings.Join(fields, " ")
}

// checkBinding checks that a RoleBinding grants role to ServiceAccount sa alone.
func checkBinding(t *testing.T, objs []obj, role obj, sa string) {
	t.Helper()
	name := str(role, "metadata", "name")
	bound := false
	for _, b := range objs {
		if str(b, "kind") != "RoleBinding" || str(b, "roleRef", "kind") != "Role" || str(b, "roleRef", "name") != name {
			continue
		}
		subjects := list(b, "subjects")
		ns := str(subjects, 0, "namespace")
		if len(subjects) != 1 || str(subjects, 0, "kind") != "ServiceAccount" || str(subjects, 0, "name") != sa ||
			(ns != "" && ns != str(b, "metadata", "namespace")) {
			t.Errorf("RoleBinding %s binds Role %s to %v, want ServiceAccount %s alone", str(b, "metadata", "name"), name, subjects, sa)
		}
		bound = true
	}
	if !bound {
		t.Errorf("no RoleBinding grants Role %s", name)
	}
}
