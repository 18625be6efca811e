package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/grpcerr"
	"github.com/ovengames/oven/proto/ovenv1"
)

const (
	// currentTTL bounds how stale the current document may be: clients fetch it at every
	// start, so it is the hottest read, yet a publish must show within API.md's 5 s.
	currentTTL = time.Second
	// maxCachedVersions bounds the immutable versions kept in memory.
	maxCachedVersions = 8
	// currentKey is the flight key of the current document (version 0 in the proto).
	currentKey = 0
)

// gamedataCache keeps the current game-data document for currentTTL and a few
// immutable versions for good. Concurrent misses for one key share one gRPC call, so a
// burst of clients after a push notification costs one call per second, not thousands.
type gamedataCache struct {
	game ovenv1.GameClient

	mu        sync.Mutex
	current   *ovenv1.GameData
	currentAt time.Time
	versions  map[int64]*ovenv1.GameData
	order     []int64 // insertion order of versions, for eviction
	flights   map[int64]*flight
}

// flight is one in-progress fetch that other requests may wait on.
type flight struct {
	done chan struct{}
	doc  *ovenv1.GameData
	err  error
}

func newGamedataCache(game ovenv1.GameClient) *gamedataCache {
	return &gamedataCache{
		game:     game,
		versions: make(map[int64]*ovenv1.GameData),
		flights:  make(map[int64]*flight),
	}
}

// get returns version (currentKey for the current one), from memory when it may be.
// The returned message is shared and must not be modified.
func (c *gamedataCache) get(ctx context.Context, version int64) (*ovenv1.GameData, error) {
	c.mu.Lock()
	if doc := c.cachedLocked(version); doc != nil {
		c.mu.Unlock()
		return doc, nil
	}
	f, joined := c.flights[version]
	if !joined {
		f = &flight{done: make(chan struct{})}
		c.flights[version] = f
	}
	c.mu.Unlock()
	if !joined {
		c.fetch(ctx, version, f)
	}
	select {
	case <-f.done:
		return f.doc, f.err
	case <-ctx.Done():
		return nil, oven.Errorf(oven.EUnavailable, "request cancelled while waiting for game data")
	}
}

func (c *gamedataCache) cachedLocked(version int64) *ovenv1.GameData {
	if version == currentKey {
		if c.current != nil && time.Since(c.currentAt) < currentTTL {
			return c.current
		}
		return nil
	}
	return c.versions[version]
}

// fetch runs the flight's call. It is detached from the leader's cancellation because
// other requests wait on the result; callTimeout still bounds it.
func (c *gamedataCache) fetch(ctx context.Context, version int64, f *flight) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
	defer cancel()
	// Age counts from before the call so the document is never older than currentTTL.
	started := time.Now()
	doc, err := c.game.GetGameData(ctx, &ovenv1.GetGameDataRequest{Version: version})
	if err != nil {
		f.err = grpcerr.FromCall("GetGameData", err)
	} else {
		f.doc = doc
	}
	c.mu.Lock()
	delete(c.flights, version)
	if err == nil {
		c.storeLocked(version, doc, started)
	}
	c.mu.Unlock()
	close(f.done)
}

func (c *gamedataCache) storeLocked(requested int64, doc *ovenv1.GameData, started time.Time) {
	if requested == currentKey {
		c.current, c.currentAt = doc, started
	}
	v := doc.GetVersion()
	if v <= 0 || c.versions[v] != nil {
		return
	}
	if len(c.order) >= maxCachedVersions {
		delete(c.versions, c.order[0])
		c.order = c.order[1:]
	}
	c.versions[v] = doc
	c.order = append(c.order, v)
}

// getCurrentGamedata serves the published document (GET /v1/gamedata). Clients must
// revalidate (no-cache) because a publish replaces it; the ETag makes that a 304.
func (s *server) getCurrentGamedata(w http.ResponseWriter, r *http.Request) error {
	doc, err := s.gamedata.get(r.Context(), currentKey)
	if err != nil {
		return err
	}
	serveGamedata(w, r, doc, "no-cache")
	return nil
}

// getGamedataVersion serves one immutable version (GET /v1/gamedata/{version}).
func (s *server) getGamedataVersion(w http.ResponseWriter, r *http.Request) error {
	version, err := positiveInt("version", chi.URLParam(r, "version"))
	if err != nil {
		return err
	}
	doc, err := s.gamedata.get(r.Context(), version)
	if err != nil {
		return err
	}
	serveGamedata(w, r, doc, "public, max-age=31536000, immutable")
	return nil
}

func serveGamedata(w http.ResponseWriter, r *http.Request, doc *ovenv1.GameData, cacheControl string) {
	etag := `"` + strconv.FormatInt(doc.GetVersion(), 10) + `"`
	h := w.Header()
	h.Set("ETag", etag)
	h.Set("Cache-Control", cacheControl)
	if etagMatches(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(doc.GetDocument())))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(doc.GetDocument()) // a failed write means the client left
}

// etagMatches implements If-None-Match's weak comparison (RFC 9110 13.1.2): a list
// of tags, W/ prefixes ignored, or "*".
func etagMatches(header, etag string) bool {
	for tag := range strings.SplitSeq(header, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" || strings.TrimPrefix(tag, "W/") == etag {
			return true
		}
	}
	return false
}
