package shard

import (
	"context"
	"log/slog"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/admins"
	"github.com/ovengames/oven/application/audit"
	"github.com/ovengames/oven/application/bans"
	"github.com/ovengames/oven/application/gamedata"
	"github.com/ovengames/oven/application/plays"
	"github.com/ovengames/oven/application/prewarm"
	"github.com/ovengames/oven/proto/ovenv1"
)

// AdminDeps are what an AdminServer works with.
type AdminDeps struct {
	Admins   *admins.Service
	DB       *pgxpool.Pool
	GameData *gamedata.Store
	Cache    *gamedata.Cache
	Bans     *bans.Cache
	Game     *Server // player profiles
	Prewarm  *prewarm.Controller
	Log      *slog.Logger
}

// AdminServer implements ovenv1.AdminServer: the GMS's calls. Every call but Login
// authorizes its caller's session here, on the application tier, and every change is
// written with its audit row in one transaction.
type AdminServer struct {
	ovenv1.UnimplementedAdminServer
	AdminDeps
}

var _ ovenv1.AdminServer = (*AdminServer)(nil)

// NewAdminServer returns an AdminServer over deps.
func NewAdminServer(deps AdminDeps) *AdminServer { return &AdminServer{AdminDeps: deps} }

// recentPlays is how many settled plays a player lookup shows.
const recentPlays = 20

// banExempt are the player-keyed Game calls that are not the player acting: shard-to-shard
// calls keyed by a receiver (a friend's life still lands in a banned player's mailbox, and
// the sender is not told "banned") and diagnostics.
var banExempt = map[string]bool{"WhoOwns": true, "DeliverMail": true, "FriendsChanged": true}

// bannable reports whether a call is refused for a banned player: every player-keyed
// Game call (not the Admin service's, which act on players rather than as them).
func bannable(fullMethod string) bool {
	svc, method := path.Split(fullMethod)
	return svc == "/"+ovenv1.Game_ServiceDesc.ServiceName+"/" && !banExempt[method]
}

func (a *AdminServer) authorize(ctx context.Context, auth *ovenv1.AdminAuth, need admins.Role, mutating bool) (*admins.Session, error) {
	return a.Admins.Authorize(ctx, admins.Credentials{SessionToken: auth.GetSessionToken(), CSRFToken: auth.GetCsrfToken()}, need, mutating)
}

// recorder writes the audit row of one change inside its transaction.
func recorder(actor, action, target string) func(ctx context.Context, tx pgx.Tx, before, after any) error {
	return func(ctx context.Context, tx pgx.Tx, before, after any) error {
		return audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: action, Target: target, Before: before, After: after})
	}
}

func sessionProto(s *admins.Session) *ovenv1.AdminSession {
	return &ovenv1.AdminSession{SessionToken: s.Token, Username: s.Username, Role: s.Role.String(),
		CsrfToken: s.CSRF, ExpiresAtMs: s.ExpiresAt.UnixMilli()}
}

// Login opens a session.
func (a *AdminServer) Login(ctx context.Context, req *ovenv1.LoginRequest) (*ovenv1.AdminSession, error) {
	s, err := a.Admins.Login(ctx, req.Username, req.Password, req.ClientIp)
	if err != nil {
		return nil, err
	}
	return sessionProto(s), nil
}

// GetSession returns the caller's session.
func (a *AdminServer) GetSession(ctx context.Context, req *ovenv1.AdminRequest) (*ovenv1.AdminSession, error) {
	s, err := a.authorize(ctx, req.Auth, admins.Viewer, false)
	if err != nil {
		return nil, err
	}
	return sessionProto(s), nil
}

// Logout ends the caller's session.
func (a *AdminServer) Logout(ctx context.Context, req *ovenv1.AdminRequest) (*ovenv1.AdminEmpty, error) {
	s, err := a.authorize(ctx, req.Auth, admins.Viewer, true)
	if err != nil {
		return nil, err
	}
	return &ovenv1.AdminEmpty{}, a.Admins.Logout(ctx, admins.Credentials{SessionToken: req.Auth.GetSessionToken()}, s)
}

func draftProto(d *gamedata.Draft) *ovenv1.GameDataDraft {
	return &ovenv1.GameDataDraft{Document: d.Raw, UpdatedBy: d.UpdatedBy, UpdatedAtMs: d.UpdatedAt.UnixMilli(), PublishedVersion: d.Published}
}

func problemsProto(ps []gamedata.Problem) []*ovenv1.ValidationProblem {
	out := make([]*ovenv1.ValidationProblem, len(ps))
	for i, p := range ps {
		out[i] = &ovenv1.ValidationProblem{Path: p.Path, Message: p.Message}
	}
	return out
}

// GetDraft returns the draft.
func (a *AdminServer) GetDraft(ctx context.Context, req *ovenv1.AdminRequest) (*ovenv1.GameDataDraft, error) {
	if _, err := a.authorize(ctx, req.Auth, admins.Viewer, false); err != nil {
		return nil, err
	}
	d, err := a.GameData.Draft(ctx)
	if err != nil {
		return nil, err
	}
	return draftProto(d), nil
}

// ValidateDraft checks a document without storing it.
func (a *AdminServer) ValidateDraft(ctx context.Context, req *ovenv1.DraftRequest) (*ovenv1.DraftResponse, error) {
	if _, err := a.authorize(ctx, req.Auth, admins.Viewer, false); err != nil {
		return nil, err
	}
	_, ps := gamedata.Check(req.Document)
	return &ovenv1.DraftResponse{Problems: problemsProto(ps)}, nil
}

// PutDraft validates and stores the draft.
func (a *AdminServer) PutDraft(ctx context.Context, req *ovenv1.DraftRequest) (*ovenv1.DraftResponse, error) {
	s, err := a.authorize(ctx, req.Auth, admins.Editor, true)
	if err != nil {
		return nil, err
	}
	d, ps, err := a.GameData.SaveDraft(ctx, req.Document, s.Username, recorder(s.Username, "gamedata.draft.save", "draft"))
	if err != nil {
		return nil, err
	}
	if len(ps) > 0 {
		return &ovenv1.DraftResponse{Problems: problemsProto(ps)}, nil
	}
	return &ovenv1.DraftResponse{Draft: draftProto(d)}, nil
}

// Publish makes the draft the next version. This shard serves it at once; the others
// hear of it by notification at commit.
func (a *AdminServer) Publish(ctx context.Context, req *ovenv1.AdminRequest) (*ovenv1.PublishResponse, error) {
	s, err := a.authorize(ctx, req.Auth, admins.Publisher, true)
	if err != nil {
		return nil, err
	}
	v, err := a.GameData.Publish(ctx, s.Username, recorder(s.Username, "gamedata.publish", "gamedata"))
	if err != nil {
		return nil, err
	}
	a.refresh(ctx)
	return &ovenv1.PublishResponse{Version: v}, nil
}

// Rollback publishes an old version's document again as a new version.
func (a *AdminServer) Rollback(ctx context.Context, req *ovenv1.RollbackRequest) (*ovenv1.PublishResponse, error) {
	s, err := a.authorize(ctx, req.Auth, admins.Publisher, true)
	if err != nil {
		return nil, err
	}
	if req.Version < 1 {
		return nil, oven.Errorf(oven.EInvalid, "version must be a published version number")
	}
	v, err := a.GameData.Rollback(ctx, req.Version, s.Username, recorder(s.Username, "gamedata.rollback", "gamedata"))
	if err != nil {
		return nil, err
	}
	a.refresh(ctx)
	return &ovenv1.PublishResponse{Version: v, SourceVersion: req.Version}, nil
}

// refresh makes this shard serve a version it just published. The publish has
// committed, so a failure here is only logged: the notification and the periodic
// refresh still bring the version in.
func (a *AdminServer) refresh(ctx context.Context) {
	if err := a.Cache.Refresh(ctx); err != nil {
		a.Log.WarnContext(ctx, "game data refresh after publish failed", "err", err)
	}
}

// ListVersions lists published versions.
func (a *AdminServer) ListVersions(ctx context.Context, req *ovenv1.ListVersionsRequest) (*ovenv1.ListVersionsResponse, error) {
	if _, err := a.authorize(ctx, req.Auth, admins.Viewer, false); err != nil {
		return nil, err
	}
	vs, published, err := a.GameData.Versions(ctx, int(req.Limit))
	if err != nil {
		return nil, err
	}
	resp := &ovenv1.ListVersionsResponse{PublishedVersion: published}
	for _, v := range vs {
		resp.Versions = append(resp.Versions, &ovenv1.GameDataVersionInfo{Version: v.Version, CreatedBy: v.CreatedBy,
			CreatedAtMs: v.CreatedAt.UnixMilli(), SourceVersion: v.Source})
	}
	return resp, nil
}

// GetVersion returns one published version (0: the current one).
func (a *AdminServer) GetVersion(ctx context.Context, req *ovenv1.GetVersionRequest) (*ovenv1.GameData, error) {
	if _, err := a.authorize(ctx, req.Auth, admins.Viewer, false); err != nil {
		return nil, err
	}
	return a.Game.GetGameData(ctx, &ovenv1.GetGameDataRequest{Version: req.Version})
}

// GetPlayer looks a player up (on its owner shard, which the router chose).
func (a *AdminServer) GetPlayer(ctx context.Context, req *ovenv1.AdminPlayerRequest) (*ovenv1.AdminPlayer, error) {
	if _, err := a.authorize(ctx, req.Auth, admins.Viewer, false); err != nil {
		return nil, err
	}
	return a.player(ctx, req.PlayerId)
}

func (a *AdminServer) player(ctx context.Context, playerID string) (*ovenv1.AdminPlayer, error) {
	profile, err := a.Game.profile(ctx, playerID)
	if err != nil {
		return nil, err
	}
	banned := a.Bans.Banned(playerID)
	recent, err := plays.Recent(ctx, a.DB, playerID, recentPlays)
	if err != nil {
		return nil, err
	}
	mail, err := a.Game.Mailbox.List(ctx, playerID)
	if err != nil {
		return nil, err
	}
	out := &ovenv1.AdminPlayer{Profile: profile, Banned: banned, Mailbox: mailProto(mail)}
	for _, r := range recent {
		out.RecentPlays = append(out.RecentPlays, &ovenv1.PlayRecord{PlayId: r.PlayID, StartedAtMs: r.StartedAt.UnixMilli(),
			SettledAtMs: r.SettledAt.UnixMilli(), Score: r.Score, Coins: r.Coins, Distance: r.Distance,
			DurationMs: r.DurationMS, CookieId: r.CookieID, PetId: r.PetID, Boosts: r.Boosts, Outcome: r.Outcome})
	}
	return out, nil
}

// maxBanReason bounds the reason kept in the audit log.
const maxBanReason = 200

// SetBanned bans or unbans a player. It runs on the owner shard (the router sends it
// there and the interceptor checks), whose cache is what refuses the player's calls.
func (a *AdminServer) SetBanned(ctx context.Context, req *ovenv1.SetBannedRequest) (*ovenv1.AdminPlayer, error) {
	s, err := a.authorize(ctx, req.Auth, admins.Operator, true)
	if err != nil {
		return nil, err
	}
	reason := strings.TrimSpace(req.Reason)
	if utf8.RuneCountInString(reason) > maxBanReason {
		return nil, oven.Errorf(oven.EInvalid, "reason must be at most %d characters", maxBanReason)
	}
	action := "player.unban"
	if req.Banned {
		action = "player.ban"
	}
	record := recorder(s.Username, action, req.PlayerId)
	_, err = a.Bans.Set(ctx, req.PlayerId, req.Banned, func(ctx context.Context, tx pgx.Tx, before, _ any) error {
		after := map[string]any{"banned": req.Banned}
		if reason != "" {
			after["reason"] = reason
		}
		return record(ctx, tx, before, after)
	})
	if err != nil {
		return nil, err
	}
	return a.player(ctx, req.PlayerId)
}

// ListAudit returns the audit log, newest first.
func (a *AdminServer) ListAudit(ctx context.Context, req *ovenv1.ListAuditRequest) (*ovenv1.ListAuditResponse, error) {
	if _, err := a.authorize(ctx, req.Auth, admins.Viewer, false); err != nil {
		return nil, err
	}
	if req.Limit < 0 || req.Limit > audit.MaxList {
		return nil, oven.Errorf(oven.EInvalid, "limit must be 1-%d", audit.MaxList)
	}
	rows, err := audit.List(ctx, a.DB, int(req.Limit))
	if err != nil {
		return nil, err
	}
	resp := &ovenv1.ListAuditResponse{}
	for _, r := range rows {
		resp.Entries = append(resp.Entries, &ovenv1.AuditEntry{Id: r.ID, AtMs: r.At.UnixMilli(), Actor: r.Actor,
			Action: r.Action, Target: r.Target, Before: r.Before, After: r.After})
	}
	return resp, nil
}
