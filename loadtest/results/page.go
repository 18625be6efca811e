package results

const pageHTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1200px;color:#1b1b1b;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{font-size:15px;margin:20px 0 6px}
table{border-collapse:collapse;margin:6px 0 12px;font-variant-numeric:tabular-nums}
th,td{border:1px solid #ddd;padding:3px 7px;text-align:right;vertical-align:top}
th{background:#f4f4f4}td.l,th.l{text-align:left}
.pass{background:#e3f5e1;color:#155b12;font-weight:600}.fail{background:#fde2e1;color:#8a1010;font-weight:600}.info{background:#eef2f8;color:#28456b;font-weight:600}
.meta{color:#555}.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;word-break:break-all}
.charts{display:flex;flex-wrap:wrap;gap:8px}
svg.chart{background:#fff;border:1px solid #e5e5e5}
svg .ct{font-size:12px;font-weight:600}svg .yt{font-size:10px;text-anchor:end;fill:#444}
svg .xt{font-size:10px;text-anchor:middle;fill:#444}svg .lg{font-size:10px;fill:#222}svg .bl{font-size:10px;text-anchor:end;fill:#333}
svg .grid{stroke:#eee}svg .axis{stroke:#999}
ul.notes{margin:4px 0 10px;color:#444}
h4{font-size:14px;margin:14px 0 4px}div.chaos{border-left:3px solid #D00000;padding-left:10px;margin:8px 0 14px}
</style></head><body>
<h1>{{.Title}}</h1>
<div class="meta">{{date .Generated}} · {{.Machine.Cores}} cores, {{.Machine.MemoryGB}} GB · {{.Machine.Go}} · kernel {{.Machine.Kernel}}{{if .Commit}} · commit {{.Commit}}{{end}}</div>
<div class="meta mono">{{.Command}}</div>

<h2>Goals (DESIGN.md)</h2>
<table><tr><th class="l">goal</th><th class="l">measured</th><th>status</th></tr>
{{range .Goals}}<tr><td class="l">{{.Goal}}</td><td class="l">{{.Measured}}</td><td class="{{cls .Status}}">{{.Status}}</td></tr>{{end}}
</table>
{{with .Notes}}<ul class="notes">{{range .}}<li>{{.}}</li>{{end}}</ul>{{end}}

<h2>Phases</h2>
<table><tr><th class="l">target</th><th class="l">phase</th><th class="l">load</th><th>requests</th><th>req/s</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>max ms</th><th>errors</th><th>missing</th><th>expected refusals</th><th>server CPU ms/request</th><th class="l">CPU (% of one core)</th></tr>
{{range $t := .Targets}}{{range .Phases}}<tr><td class="l">{{$t.Name}}</td><td class="l">{{.Label}}</td><td class="l">{{.Profile}}</td>
<td>{{.Summary.Total.Count}}</td><td>{{f0 .Summary.Total.Throughput}}</td><td>{{f1 .Summary.Total.Latency.P50}}</td><td>{{f1 .Summary.Total.Latency.P90}}</td>
<td>{{f1 .Summary.Total.Latency.P99}}</td><td>{{f0 .Summary.Total.Latency.Max}}</td>
<td class="{{if .Summary.Total.Errors}}fail{{end}}">{{.Summary.Total.Errors}}</td><td>{{.Summary.Total.Missing}}</td><td>{{.Summary.Total.Expected}}</td><td>{{.ServerMS}}</td><td class="l">{{cpu .}}</td></tr>
{{end}}{{end}}</table>
<p class="meta">Latency counts from each request's intended send time (open loop: no coordinated omission; closed loop: from the moment a client slot was free). Throughput counts answers within the phase's window (closed loop: after the warm-up). CPU is % of one core (the machine has two), averaged over the phase: the load generator shares the machine with the server, and "other" is everything else running on it.</p>
<h3>CPU per request</h3>
<table><tr><th class="l">target</th><th class="l">phase</th><th>requests in the window</th><th>server CPU s</th><th>server ms/request</th><th class="l">server ms/request by process</th><th>load generator ms/request</th></tr>
{{range $t := .Targets}}{{range $p := .Phases}}{{with $p.Summary.CPU}}<tr><td class="l">{{$t.Name}}</td><td class="l">{{$p.Label}}</td><td>{{.Requests}}</td>
<td>{{if .ServerKnown}}{{f1 .ServerCPU}}{{else}}—{{end}}</td><td>{{$p.ServerMS}}</td><td class="l">{{byProcess .}}</td><td>{{f2 .Generator}}</td></tr>
{{end}}{{end}}{{end}}</table>
{{with costVsRelay .}}<ul class="notes">{{range .}}<li>{{.}}</li>{{end}}</ul>{{end}}
<p class="meta">CPU per request: the CPU time the server's processes used over a phase's throughput window (their cumulative utime+stime, read from /proc about once a second and interpolated at the window's ends), divided by the requests answered in that window. It does not depend on how hard a phase pushed, and other work on a shared machine hardly moves it. The server is the process tree this run started (the dev stack, or the relay child), split by command name; the load generator's own CPU is apart. A mixed phase has one figure for the mix: which route used the CPU inside a mix cannot be told from outside the server, so per route it is measured by running the route alone (-routes).</p>
{{with campaigns .}}
<h2>Push campaign</h2>
{{range .}}{{$c := .Campaign.Campaign}}
<h3>{{.Target}} · campaign{{with $c.EventID}} {{.}}{{end}}</h3>
{{if not $c.EventID}}<p class="fail">Not started: {{$c.Error}}</p>{{else}}
<p class="meta">{{$c.Sentence}}</p>
{{with $c.Error}}<p class="fail">{{.}}</p>{{end}}
<table><tr><th>rows queued (at the end)</th><th>sent</th><th>failed</th><th>unregistered</th><th>rows</th><th>sink accepted</th><th>sink refused</th><th>first push seen s</th><th>last push by s</th><th>mean pushes/s</th><th>peak pushes/s</th><th>pushes/s in the arrival window</th></tr>
<tr><td>{{$c.Counts.Queued}}</td><td>{{$c.Counts.Sent}}</td><td>{{$c.Counts.Failed}}</td><td>{{$c.Counts.Unregistered}}</td><td>{{$c.Counts.Rows}}</td>
{{with $c.Sink}}<td>{{.Accepted}}</td><td>{{.Rejected}}</td>{{else}}<td>—</td><td>—</td>{{end}}
<td>{{f0 $c.Rate.FirstS}}</td><td>{{f0 $c.Rate.LastS}}</td><td>{{f0 $c.Rate.Mean}}</td><td>{{f0 $c.Rate.Peak}}</td><td>{{f0 $c.WindowRate}}</td></tr>
</table>
{{end}}
<table><tr><th class="l">the game</th><th class="l">load</th><th>requests</th><th>req/s</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>max ms</th><th>errors</th><th>server CPU ms/request</th><th class="l">CPU (% of one core)</th></tr>
{{with .Baseline}}<tr><td class="l">without: {{.Label}}</td>{{template "campaignRow" .}}</tr>{{else}}<tr><td class="l">without: no steady phase before it</td><td colspan="10"></td></tr>{{end}}
{{with .Campaign}}<tr><td class="l">with: {{.Label}}</td>{{template "campaignRow" .}}</tr>{{end}}
</table>
{{if $c.EventID}}<div class="charts">{{range pushCharts $c}}{{.}}{{end}}</div>{{end}}
{{end}}
<p class="meta">A campaign phase is steady's open-loop load with a GMS push event for now (audience all) created at its start: the shards fan it out into the outbox and send it to the push sink while the players play. Pushes are the requests the sink answered (accepted or refused) from the event's creation on, sampled every second; the campaign's counts (GET /gms/api/events/{id}/pushes) are read every 5 s, as each is a count over all of its rows. The mean is the pushes over the time from the event's creation to the sample that saw the last one (fan-out included), the peak the busiest interval between two samples; times are the samples', to within a second. The game's latency and CPU per request are over the arrival window only; pushes sent after it are outside them. The push sink runs inside the dev runner's process ("run" in the CPU by process).</p>
{{end}}
{{with routes .}}
<h2>Single routes against the reference server (DESIGN.md)</h2>
<table><tr><th class="l">target</th><th class="l">route</th><th class="l">Oven request</th><th>clients</th><th>reference req/s</th><th>goal req/s</th><th>req/s</th><th>× reference</th><th>reference p99 ms</th><th>p50 ms</th><th>p99 ms</th><th>max ms</th><th>errors</th><th>server CPU ms/request</th><th class="l">non-OK answers</th><th>status</th></tr>
{{range $row := .}}<tr><td class="l">{{.Target}}</td><td class="l">{{.Ref.Route}}</td><td class="l mono">{{.Ref.Oven}}</td><td>{{.Phase.Clients}}</td><td>{{f0 .Ref.RPS}}</td><td>{{f0 .Want}}</td>
<td>{{f0 .Phase.Summary.Total.Throughput}}</td><td>{{f2 (ratio .Phase.Summary.Total.Throughput .Ref.RPS)}}</td><td>{{f0 .Ref.P99}}</td>
<td>{{f1 .Phase.Summary.Total.Latency.P50}}</td><td>{{f1 .Phase.Summary.Total.Latency.P99}}</td><td>{{f0 .Phase.Summary.Total.Latency.Max}}</td>
<td class="{{if .Phase.Summary.Total.Errors}}fail{{end}}">{{.Phase.Summary.Total.Errors}}</td><td>{{.Phase.ServerMS}}</td>
<td class="l mono">{{range $k := sortedKeys .Phase.Summary.Total.ByCode}}{{$k}}: {{index $row.Phase.Summary.Total.ByCode $k}}<br>{{end}}</td>
<td class="{{cls .Goal.Status}}">{{.Goal.Status}}</td></tr>{{end}}
</table>
<p class="meta">Each route alone in a closed loop (requests in flight = clients), its data prepared through the public API beforehand and not measured; the goal is ≥ 3× the reference's throughput with a p99 below the reference's, and zero errors. Latency counts from the moment a client slot was free.</p>
{{end}}
{{with compare .}}<div class="charts">{{range .}}{{.}}{{end}}</div>{{end}}

{{range $t := .Targets}}
<h2>{{$t.Name}} — {{$t.URL}}</h2>
<p class="meta">{{$t.About}}</p>
{{with $t.Audit}}
<h3>Audit ({{f1 .Took}} s)</h3>
<table><tr><th>inv.</th><th class="l">check</th><th>status</th><th>checked</th><th>violations</th><th class="l">what / client-side checks / examples</th></tr>
{{range .Checks}}<tr><td>{{if .Invariant}}{{.Invariant}}{{end}}</td><td class="l">{{.Title}}</td><td class="{{cls .Status}}">{{.Status}}</td><td>{{.Checked}}</td><td>{{.Violations}}</td>
<td class="l">{{.What}}{{if .Note}}<br><i>{{.Note}}</i>{{end}}
{{range .Client}}<br>client: {{.Name}} — {{.Checked}} checked, {{.Violations}} violations{{range .Examples}}<br><span class="mono">{{.}}</span>{{end}}{{end}}
{{range .Examples}}<br><span class="mono">{{.}}</span>{{end}}</td></tr>{{end}}
</table>{{end}}
{{with $t.Counters}}<p class="meta">{{range $k := sortedKeys .}}{{$k}}: {{index $t.Counters $k}} · {{end}}</p>{{end}}
{{range $t.Phases}}
<h3>{{$t.Name}} · {{.Label}}{{if .Profile}} · {{.Profile}}{{end}}</h3>
<p class="meta">window {{f1 .Summary.Window}} s of {{f0 .Summary.Duration}} s recorded · CPU {{cpu .}}{{with procs .}}<br>server CPU by process (% of one core): {{.}}{{end}}{{with .CostSentence}}<br>CPU per request: {{.}}{{end}}{{with .StoreWork}}<br>store work per request (approximate): {{.}}{{end}}</p>
{{with .Summary.Notes}}<ul class="notes">{{range .}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{with .Chaos}}{{template "chaos" .}}{{end}}
<table><tr><th class="l">route</th><th>count</th><th>share</th><th>req/s</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th><th>service p99</th><th>errors</th><th>missing</th><th>expected</th><th class="l">non-OK answers</th></tr>
{{range $r := append .Summary.Routes .Summary.Total}}<tr><td class="l">{{.Route}}</td><td>{{.Count}}</td><td>{{pct .Share}}</td><td>{{f1 .Throughput}}</td>
<td>{{f1 .Latency.P50}}</td><td>{{f1 .Latency.P90}}</td><td>{{f1 .Latency.P99}}</td><td>{{f1 .Latency.P999}}</td><td>{{f1 .Latency.Max}}</td><td>{{f1 .Service.P99}}</td>
<td class="{{if .Errors}}fail{{end}}">{{.Errors}}</td><td>{{.Missing}}</td><td>{{.Expected}}</td>
<td class="l mono">{{range $k := sortedKeys $r.ByCode}}{{$k}}: {{index $r.ByCode $k}}<br>{{end}}</td></tr>{{end}}
</table>
<div class="charts">{{range charts .}}{{.}}{{end}}</div>
{{end}}{{end}}

{{define "campaignRow"}}<td class="l">{{.Profile}}</td><td>{{.Summary.Total.Count}}</td><td>{{f0 .Summary.Total.Throughput}}</td><td>{{f1 .Summary.Total.Latency.P50}}</td><td>{{f1 .Summary.Total.Latency.P90}}</td>
<td>{{f1 .Summary.Total.Latency.P99}}</td><td>{{f0 .Summary.Total.Latency.Max}}</td><td class="{{if .Summary.Total.Errors}}fail{{end}}">{{.Summary.Total.Errors}}</td><td>{{.ServerMS}}</td><td class="l">{{cpu .}}</td>{{end}}

{{define "chaos"}}
<div class="chaos">
<h4>Fault: {{.Kind}}{{with .Shard}} {{.}}{{end}}{{if .Injected}} at {{f1 .AtS}} s into the phase (planned {{f1 .PlanAtS}} s){{end}}</h4>
{{if not .Injected}}<p class="fail">Not injected: {{.Error}}</p>{{else}}
{{with .Error}}<p class="fail">{{.}}</p>{{end}}
<table><tr><th>after the fault</th><th class="l">action</th></tr>
{{range .Actions}}<tr><td>+{{f1 .AtS}} s</td><td class="l">{{.What}}</td></tr>{{end}}
<tr><td>+{{f1 .DoneS}} s</td><td class="l">fault complete; answers watched until +{{f1 .WatchedS}} s</td></tr>
</table>
<p>{{.Window.Errors}} client-visible errors after the fault{{if .Window.Errors}}, from +{{f1 .Window.FirstErrorS}} s to +{{f1 .Window.LastErrorS}} s{{end}}; {{.ServedSentence}}.</p>
{{with .Window.Codes}}<table><tr><th class="l">error</th><th>count</th><th>players</th><th>first</th><th>last</th></tr>
{{range .}}<tr><td class="l mono">{{.Code}}</td><td>{{.Count}}</td><td>{{.Players}}</td><td>+{{f1 .FirstErrorS}} s</td><td>+{{f1 .LastErrorS}} s</td></tr>{{end}}
</table>{{end}}
<p>{{.CountersSentence}}.{{if and .Static (not .Plan.Scales)}} <b>Note:</b> {{staticNote}}.{{end}}</p>
<table><tr><th class="l">shard</th><th>slots owned before</th><th>slots owned after</th><th class="l">fenced writes before → after (by store)</th><th class="l">slot moves before → after (by reason)</th><th class="l">scrape</th></tr>
{{range .Shards}}<tr><td class="l">{{.ID}}</td><td>{{with .Before}}{{f0 .Owned}}{{else}}—{{end}}</td><td>{{with .After}}{{f0 .Owned}}{{else}}—{{end}}</td>
<td class="l">{{with .Before}}{{labels .Fenced}}{{end}} → {{with .After}}{{labels .Fenced}}{{end}}</td><td class="l">{{with .Before}}{{labels .Moves}}{{end}} → {{with .After}}{{labels .Moves}}{{end}}</td>
<td class="l">{{with .Before}}{{with .Error}}before: {{.}} {{end}}{{end}}{{with .After}}{{with .Error}}after: {{.}}{{end}}{{else}}not in stack.json after{{end}}</td></tr>{{end}}
</table>
<p class="meta">Errors are the VPs' own error answers after the fault; a player counts as affected once it got one, and as served again at its first good answer after its last error (its own requests, or the generator's probes of GET /v1/me, which are not counted as errors). Counters are the shards' oven_fenced_writes_total and oven_slot_moves_total, scraped just before the fault and after it settled (a restarted shard counts from zero).</p>
{{end}}</div>
{{end}}

<h2>Settings</h2>
<table>{{range $k := sortedKeysS .Settings}}<tr><td class="l">{{$k}}</td><td class="l mono">{{index $.Settings $k}}</td></tr>{{end}}</table>
</body></html>
`
