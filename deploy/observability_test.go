package deploy_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// dashboardMustShow are the metrics the dashboard exists for (DESIGN.md, Observability).
var dashboardMustShow = []string{
	"oven_http_requests_total", "oven_http_request_duration_seconds",
	"oven_grpc_server_handled_total", "oven_grpc_server_handling_seconds",
	"oven_coins_earned_total", "oven_coins_spent_total",
	"oven_lives_sent_total", "oven_lives_accepted_total", "oven_lives_expired_total",
	"oven_plays_started_total", "oven_plays_settled_total", "oven_plays_rejected_total",
}

type panel struct {
	Type       string
	Title      string
	Datasource *struct{ UID string }
	GridPos    struct{ H, W, X, Y int }
	Targets    []struct{ Expr string }
}

// TestGrafanaDashboard checks that deploy/grafana/oven.json is a dashboard whose
// queries name only metrics the code registers, and that it shows the ones it is for.
func TestGrafanaDashboard(t *testing.T) {
	b, err := os.ReadFile("grafana/oven.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID, Title string
		Panels     []panel
		Templating struct {
			List []struct{ Name, Type, Query string }
		}
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("grafana/oven.json: %v", err)
	}
	if d.UID == "" || d.Title == "" || len(d.Panels) == 0 {
		t.Fatalf("not a dashboard: uid %q, title %q, %d panels", d.UID, d.Title, len(d.Panels))
	}
	if len(d.Templating.List) == 0 || d.Templating.List[0].Name != "datasource" || d.Templating.List[0].Query != "prometheus" {
		t.Errorf("the dashboard does not let the user pick the Prometheus data source: %+v", d.Templating.List)
	}
	registered := registeredMetrics(t)
	used := map[string]bool{}
	metric := regexp.MustCompile(`\boven_[a-z0-9_]+`)
	cells := map[[2]int]string{}
	for _, p := range d.Panels {
		for x := p.GridPos.X; x < p.GridPos.X+p.GridPos.W; x++ {
			for y := p.GridPos.Y; y < p.GridPos.Y+p.GridPos.H; y++ {
				if other, taken := cells[[2]int{x, y}]; taken {
					t.Fatalf("panels %q and %q overlap", other, p.Title)
				}
				cells[[2]int{x, y}] = p.Title
			}
		}
		if p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q is wider than the grid", p.Title)
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" || len(p.Targets) == 0 {
			t.Errorf("panel %q has no query on the chosen data source", p.Title)
		}
		for _, tg := range p.Targets {
			if strings.Count(tg.Expr, "(") != strings.Count(tg.Expr, ")") || strings.Count(tg.Expr, "{") != strings.Count(tg.Expr, "}") {
				t.Errorf("panel %q: unbalanced query %s", p.Title, tg.Expr)
			}
			for _, m := range metric.FindAllString(tg.Expr, -1) {
				base := m
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					if b, ok := strings.CutSuffix(m, suffix); ok && registered[b] {
						base = b
					}
				}
				if !registered[base] {
					t.Errorf("panel %q queries %s, which no code registers", p.Title, m)
				}
				used[base] = true
			}
		}
	}
	for _, m := range dashboardMustShow {
		if !registered[m] {
			t.Errorf("%s is no longer registered by the code: update the dashboard and this test", m)
		}
		if !used[m] {
			t.Errorf("the dashboard does not show %s", m)
		}
	}
}

// TestPrometheusConfig checks the example scrape configuration against what deploy/run
// writes and what the manifests and the dashboard expect.
func TestPrometheusConfig(t *testing.T) {
	cfg := parseYAMLFile(t, "prometheus/prometheus.yml")[0]
	jobs := map[string]obj{}
	for _, j := range list(cfg, "scrape_configs") {
		jobs[str(j, "job_name")] = j.(obj)
	}
	local, k8s := jobs["oven-local"], jobs["oven-kubernetes-pods"]
	if local == nil || k8s == nil {
		t.Fatalf("want jobs oven-local and oven-kubernetes-pods, have %v", sortedKeys(jobs))
	}
	// file_sd paths are relative to the configuration file.
	file := filepath.Clean(filepath.Join("prometheus", str(local, "file_sd_configs", 0, "files", 0)))
	if file != filepath.Join("..", ".oven", "prometheus-targets.json") {
		t.Errorf("oven-local reads %s, not the .oven/prometheus-targets.json that make run writes", file)
	}
	runner, err := os.ReadFile("run/stackfile.go")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(runner), `"prometheus-targets.json"`) || !strings.Contains(string(runner), `"component"`) {
		t.Error("deploy/run no longer writes prometheus-targets.json with a component label")
	}
	labels := map[string]string{}
	for _, r := range list(k8s, "relabel_configs") {
		if tl := str(r, "target_label"); tl != "" {
			labels[tl] = strings.Join(anyStrings(list(r, "source_labels")), ",")
		}
	}
	for _, want := range []string{"namespace", "pod", "component", "process"} {
		if labels[want] == "" {
			t.Errorf("oven-kubernetes-pods does not set the %s label (dashboard and prometheus-adapter use it)", want)
		}
	}
	if labels["component"] != "__meta_kubernetes_pod_label_app_kubernetes_io_component" {
		t.Errorf("component comes from %q, want the pods' app.kubernetes.io/component label", labels["component"])
	}
}

func anyStrings(l []any) []string {
	out := make([]string, len(l))
	for i, v := range l {
		out[i], _ = v.(string)
	}
	return out
}
