package gms

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"mime"
	"net/http"
	"path"
	"strconv"

	"github.com/go-chi/chi/v5"
)

//go:embed web/index.html.tmpl web/static
var webFS embed.FS

var indexTmpl = template.Must(template.ParseFS(webFS, "web/index.html.tmpl"))

// asset is one embedded static file, with a content hash for caching.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// console serves the page and its static files, all built once from the embedded files.
type console struct {
	page   []byte
	assets map[string]asset
}

func newConsole() *console {
	c := &console{assets: map[string]asset{}}
	entries, err := webFS.ReadDir("web/static")
	if err != nil {
		panic("gms: embedded files: " + err.Error())
	}
	versions := map[string]string{}
	for _, e := range entries {
		b, err := webFS.ReadFile("web/static/" + e.Name())
		if err != nil {
			panic("gms: embedded files: " + err.Error())
		}
		sum := sha256.Sum256(b)
		tag := hex.EncodeToString(sum[:8])
		c.assets[e.Name()] = asset{body: b, contentType: mime.TypeByExtension(path.Ext(e.Name())), etag: `"` + tag + `"`}
		versions[e.Name()] = tag
	}
	var buf bytes.Buffer
	if err := indexTmpl.Execute(&buf, struct{ Base, JS, CSS string }{
		Base: "/gms",
		JS:   "/gms/static/app.js?v=" + versions["app.js"],
		CSS:  "/gms/static/app.css?v=" + versions["app.css"],
	}); err != nil {
		panic("gms: console template: " + err.Error())
	}
	c.page = buf.Bytes()
	return c
}

// index serves the console (GET /gms/). It holds no data: the script asks the API.
func (c *console) index(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Length", strconv.Itoa(len(c.page)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(c.page)
}

// static serves an embedded file. URLs carry the content hash (?v=), so a browser may
// keep a file as long as it likes; a new build brings new URLs.
func (c *console) static(w http.ResponseWriter, r *http.Request) {
	a, ok := c.assets[chi.URLParam(r, "file")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("ETag", a.etag)
	if r.URL.Query().Get("v") != "" {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	if r.Header.Get("If-None-Match") == a.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(a.body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(a.body)
}
