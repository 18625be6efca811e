package gms

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/grpcerr"
	"github.com/ovengames/oven/presentation/apijson"
	"github.com/ovengames/oven/proto/ovenv1"
)

// handlerFunc returns its failure, so that every error renders through writeError.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (s *server) handle(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	}
}

func callCtx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), callTimeout)
}

// auth is the caller's credentials as the Admin service takes them.
func auth(r *http.Request) *ovenv1.AdminAuth {
	a := &ovenv1.AdminAuth{CsrfToken: r.Header.Get(csrfHeader)}
	if c, err := r.Cookie(cookieName); err == nil {
		a.SessionToken = c.Value
	}
	return a
}

func (s *server) setCookie(w http.ResponseWriter, token string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: token, Path: cookiePath, Expires: expires,
		MaxAge: max(1, int(time.Until(expires).Seconds())), HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteStrictMode})
}

func (s *server) clearCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: cookiePath, MaxAge: -1,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteStrictMode})
}

// readDocument reads a game-data document body as is (Check on the shard judges it).
func readDocument(r *http.Request) ([]byte, error) {
	b, err := apijson.ReadBody(r)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, oven.Errorf(oven.EInvalid, "request body is empty; the game-data document is required")
	}
	return b, nil
}

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type sessionJSON struct {
	Username  string `json:"username"`
	Role      string `json:"role"`
	CSRFToken string `json:"csrf_token"`
	ExpiresAt string `json:"expires_at"`
}

func renderSession(s *ovenv1.AdminSession) sessionJSON {
	return sessionJSON{Username: s.GetUsername(), Role: s.GetRole(), CSRFToken: s.GetCsrfToken(), ExpiresAt: apijson.Time(s.GetExpiresAtMs())}
}

// login opens a session (POST /gms/api/login).
func (s *server) login(w http.ResponseWriter, r *http.Request) error {
	var req loginRequest
	if err := apijson.Decode(r, &req); err != nil {
		return err
	}
	if req.Username == "" || req.Password == "" || len(req.Username) > 64 || len(req.Password) > 128 {
		return oven.Errorf(oven.EInvalid, "username and password are required")
	}
	ctx, cancel := callCtx(r)
	defer cancel()
	sess, err := s.admin.Login(ctx, &ovenv1.LoginRequest{Username: req.Username, Password: req.Password, ClientIp: s.clientIP(r)})
	if err != nil {
		return grpcerr.FromCall("Login", err)
	}
	s.setCookie(w, sess.GetSessionToken(), time.UnixMilli(sess.GetExpiresAtMs()))
	apijson.Write(w, http.StatusOK, renderSession(sess))
	return nil
}

// logout ends the session (POST /gms/api/logout); ending one that is gone is fine.
func (s *server) logout(w http.ResponseWriter, r *http.Request) error {
	if err := apijson.DecodeEmpty(r); err != nil {
		return err
	}
	ctx, cancel := callCtx(r)
	defer cancel()
	_, err := s.admin.Logout(ctx, &ovenv1.AdminRequest{Auth: auth(r)})
	if err != nil {
		if err := grpcerr.FromCall("Logout", err); oven.ErrorCode(err) != oven.EUnauthenticated {
			return err
		}
	}
	s.clearCookie(w)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// session returns the signed-in admin and its CSRF token (GET /gms/api/session), which
// the console cannot read from its HttpOnly cookie.
func (s *server) session(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := callCtx(r)
	defer cancel()
	sess, err := s.admin.GetSession(ctx, &ovenv1.AdminRequest{Auth: auth(r)})
	if err != nil {
		return grpcerr.FromCall("GetSession", err)
	}
	apijson.Write(w, http.StatusOK, renderSession(sess))
	return nil
}

// writeDocument sends a game-data document as is, with its metadata in headers so that
// the body keeps /v1/gamedata's shape.
func writeDocument(w http.ResponseWriter, doc []byte, headers map[string]string) {
	h := w.Header()
	for k, v := range headers {
		h.Set(k, v)
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(doc)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(doc)
}

func draftHeaders(d *ovenv1.GameDataDraft) map[string]string {
	return map[string]string{
		"X-Draft-Updated-By":  d.GetUpdatedBy(),
		"X-Draft-Updated-At":  apijson.Time(d.GetUpdatedAtMs()),
		"X-Published-Version": strconv.FormatInt(d.GetPublishedVersion(), 10),
	}
}

// getDraft returns the draft document (GET /gms/api/gamedata/draft).
func (s *server) getDraft(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := callCtx(r)
	defer cancel()
	d, err := s.admin.GetDraft(ctx, &ovenv1.AdminRequest{Auth: auth(r)})
	if err != nil {
		return grpcerr.FromCall("GetDraft", err)
	}
	writeDocument(w, d.GetDocument(), draftHeaders(d))
	return nil
}

func problems(ps []*ovenv1.ValidationProblem) []apijson.Problem {
	out := make([]apijson.Problem, len(ps))
	for i, p := range ps {
		out[i] = apijson.Problem{Path: p.GetPath(), Message: p.GetMessage()}
	}
	return out
}

// putDraft validates and stores the draft (PUT /gms/api/gamedata/draft, editor): 200
// with the stored draft, or 400 listing every problem.
func (s *server) putDraft(w http.ResponseWriter, r *http.Request) error {
	doc, err := readDocument(r)
	if err != nil {
		return err
	}
	ctx, cancel := callCtx(r)
	defer cancel()
	resp, err := s.admin.PutDraft(ctx, &ovenv1.DraftRequest{Auth: auth(r), Document: doc})
	if err != nil {
		return grpcerr.FromCall("PutDraft", err)
	}
	if len(resp.GetProblems()) > 0 {
		return &problemsError{problems: problems(resp.GetProblems())}
	}
	writeDocument(w, resp.GetDraft().GetDocument(), draftHeaders(resp.GetDraft()))
	return nil
}

type validateResponse struct {
	Valid    bool              `json:"valid"`
	Problems []apijson.Problem `json:"problems"`
}

// validate checks a document without storing it (POST /gms/api/gamedata/validate): the
// console's inline validation as the operator types.
func (s *server) validate(w http.ResponseWriter, r *http.Request) error {
	doc, err := readDocument(r)
	if err != nil {
		return err
	}
	ctx, cancel := callCtx(r)
	defer cancel()
	resp, err := s.admin.ValidateDraft(ctx, &ovenv1.DraftRequest{Auth: auth(r), Document: doc})
	if err != nil {
		return grpcerr.FromCall("ValidateDraft", err)
	}
	apijson.Write(w, http.StatusOK, validateResponse{Valid: len(resp.GetProblems()) == 0, Problems: problems(resp.GetProblems())})
	return nil
}

type publishJSON struct {
	Version       int64  `json:"version"`
	SourceVersion *int64 `json:"source_version,omitempty"`
}

// publish makes the draft the next version (POST /gms/api/gamedata/publish, publisher).
func (s *server) publish(w http.ResponseWriter, r *http.Request) error {
	if err := apijson.DecodeEmpty(r); err != nil {
		return err
	}
	ctx, cancel := callCtx(r)
	defer cancel()
	resp, err := s.admin.Publish(ctx, &ovenv1.AdminRequest{Auth: auth(r)})
	if err != nil {
		return grpcerr.FromCall("Publish", err)
	}
	apijson.Write(w, http.StatusOK, publishJSON{Version: resp.GetVersion()})
	return nil
}

type rollbackRequest struct {
	Version *int64 `json:"version"`
}

// rollback publishes an old version's document again as a new version (POST
// /gms/api/gamedata/rollback, publisher).
func (s *server) rollback(w http.ResponseWriter, r *http.Request) error {
	var req rollbackRequest
	if err := apijson.Decode(r, &req); err != nil {
		return err
	}
	if req.Version == nil || *req.Version < 1 {
		return oven.Errorf(oven.EInvalid, "version must be a published version number")
	}
	ctx, cancel := callCtx(r)
	defer cancel()
	resp, err := s.admin.Rollback(ctx, &ovenv1.RollbackRequest{Auth: auth(r), Version: *req.Version})
	if err != nil {
		return grpcerr.FromCall("Rollback", err)
	}
	src := resp.GetSourceVersion()
	apijson.Write(w, http.StatusOK, publishJSON{Version: resp.GetVersion(), SourceVersion: &src})
	return nil
}

type versionJSON struct {
	Version       int64  `json:"version"`
	CreatedBy     string `json:"created_by"`
	CreatedAt     string `json:"created_at"`
	SourceVersion *int64 `json:"source_version"`
	Published     bool   `json:"published"`
}

type versionsJSON struct {
	PublishedVersion int64         `json:"published_version"`
	Versions         []versionJSON `json:"versions"`
}

// limit parses the optional ?limit=N (1..max, default def).
func limit(r *http.Request, def, max int) (int32, error) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return int32(def), nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > max {
		return 0, oven.Errorf(oven.EInvalid, "limit must be 1-%d", max)
	}
	return int32(n), nil
}

// versions lists published versions, newest first (GET /gms/api/gamedata/versions).
func (s *server) versions(w http.ResponseWriter, r *http.Request) error {
	n, err := limit(r, 100, 500)
	if err != nil {
		return err
	}
	ctx, cancel := callCtx(r)
	defer cancel()
	resp, err := s.admin.ListVersions(ctx, &ovenv1.ListVersionsRequest{Auth: auth(r), Limit: n})
	if err != nil {
		return grpcerr.FromCall("ListVersions", err)
	}
	out := versionsJSON{PublishedVersion: resp.GetPublishedVersion(), Versions: []versionJSON{}}
	for _, v := range resp.GetVersions() {
		vj := versionJSON{Version: v.GetVersion(), CreatedBy: v.GetCreatedBy(), CreatedAt: apijson.Time(v.GetCreatedAtMs()),
			Published: v.GetVersion() == resp.GetPublishedVersion()}
		if src := v.GetSourceVersion(); src > 0 {
			vj.SourceVersion = &src
		}
		out.Versions = append(out.Versions, vj)
	}
	apijson.Write(w, http.StatusOK, out)
	return nil
}

// version returns one published version's document (GET /gms/api/gamedata/versions/{version};
// "current" for the one published now).
func (s *server) version(w http.ResponseWriter, r *http.Request) error {
	var v int64
	if p := chi.URLParam(r, "version"); p != "current" {
		n, err := strconv.ParseInt(p, 10, 64)
		if err != nil || n < 1 {
			return oven.Errorf(oven.EInvalid, "version must be a positive integer or \"current\"")
		}
		v = n
	}
	ctx, cancel := callCtx(r)
	defer cancel()
	gd, err := s.admin.GetVersion(ctx, &ovenv1.GetVersionRequest{Auth: auth(r), Version: v})
	if err != nil {
		return grpcerr.FromCall("GetVersion", err)
	}
	writeDocument(w, gd.GetDocument(), map[string]string{"ETag": `"` + strconv.FormatInt(gd.GetVersion(), 10) + `"`})
	return nil
}

// playerID checks the {id} path segment: present, bounded, printable UTF-8.
func playerID(r *http.Request) (string, error) { return apijson.PathID(r, "id", 64) }

// player looks a player up (GET /gms/api/players/{id}).
func (s *server) player(w http.ResponseWriter, r *http.Request) error {
	id, err := playerID(r)
	if err != nil {
		return err
	}
	ctx, cancel := callCtx(r)
	defer cancel()
	p, err := s.admin.GetPlayer(ctx, &ovenv1.AdminPlayerRequest{Auth: auth(r), PlayerId: id})
	if err != nil {
		return grpcerr.FromCall("GetPlayer", err)
	}
	apijson.Write(w, http.StatusOK, renderPlayer(p))
	return nil
}

type banRequest struct {
	Reason string `json:"reason"`
}

// ban bans or unbans a player (POST /gms/api/players/{id}/ban and /unban, operator); the
// body {"reason"} is optional.
func (s *server) ban(banned bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := playerID(r)
		if err != nil {
			return err
		}
		var req banRequest
		if err := apijson.DecodeOptional(r, &req); err != nil {
			return err
		}
		ctx, cancel := callCtx(r)
		defer cancel()
		p, err := s.admin.SetBanned(ctx, &ovenv1.SetBannedRequest{Auth: auth(r), PlayerId: id, Banned: banned, Reason: req.Reason})
		if err != nil {
			return grpcerr.FromCall("SetBanned", err)
		}
		apijson.Write(w, http.StatusOK, renderPlayer(p))
		return nil
	}
}

type auditJSON struct {
	ID     int64           `json:"id"`
	At     string          `json:"at"`
	Actor  string          `json:"actor"`
	Action string          `json:"action"`
	Target string          `json:"target"`
	Before json.RawMessage `json:"before"`
	After  json.RawMessage `json:"after"`
}

// audit returns the audit log, newest first (GET /gms/api/audit?limit=N).
func (s *server) audit(w http.ResponseWriter, r *http.Request) error {
	n, err := limit(r, 100, 500)
	if err != nil {
		return err
	}
	ctx, cancel := callCtx(r)
	defer cancel()
	resp, err := s.admin.ListAudit(ctx, &ovenv1.ListAuditRequest{Auth: auth(r), Limit: n})
	if err != nil {
		return grpcerr.FromCall("ListAudit", err)
	}
	out := struct {
		Entries []auditJSON `json:"entries"`
	}{Entries: []auditJSON{}}
	for _, e := range resp.GetEntries() {
		out.Entries = append(out.Entries, auditJSON{ID: e.GetId(), At: apijson.Time(e.GetAtMs()), Actor: e.GetActor(),
			Action: e.GetAction(), Target: e.GetTarget(), Before: rawOrNull(e.GetBefore()), After: rawOrNull(e.GetAfter())})
	}
	apijson.Write(w, http.StatusOK, out)
	return nil
}

func rawOrNull(b []byte) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage("null")
	}
	return b
}
