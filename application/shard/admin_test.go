package shard_test

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/bcrypt"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/admins"
	"github.com/ovengames/oven/application/grpcerr"
	"github.com/ovengames/oven/application/redisdb"
	"github.com/ovengames/oven/application/shard/shardtest"
	"github.com/ovengames/oven/proto/ovenv1"
)

const admPassword = "correct horse battery"

// admLogin creates an admin with role and signs it in.
func admLogin(t *testing.T, c *shardtest.Cluster, username string, role admins.Role) *ovenv1.AdminAuth {
	t.Helper()
	if _, err := admins.Put(bg, c.DB, "test", username, admPassword, role, bcrypt.MinCost); err != nil {
		t.Fatal(err)
	}
	s, err := ovenv1.NewAdminClient(c.Router).Login(bg, &ovenv1.LoginRequest{Username: username, Password: admPassword, ClientIp: "10.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Role != role.String() || s.SessionToken == "" || s.CsrfToken == "" {
		t.Fatalf("session %+v", s)
	}
	return &ovenv1.AdminAuth{SessionToken: s.SessionToken, CsrfToken: s.CsrfToken}
}

// admDoc returns the published default document with f applied.
func admDoc(t *testing.T, c *shardtest.Cluster, f func(m map[string]any)) []byte {
	t.Helper()
	gd, err := c.Game.GetGameData(bg, &ovenv1.GetGameDataRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(gd.Document, &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	b, _ := json.Marshal(m)
	return b
}

func setLivesMax(n int) func(map[string]any) {
	return func(m map[string]any) { m["lives"].(map[string]any)["max"] = n }
}

func TestAdminRolesAndCSRF(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{Shards: 2})
	adm := ovenv1.NewAdminClient(c.Router)
	player := guest(t, c, "device-admin-roles")
	auth := map[admins.Role]*ovenv1.AdminAuth{}
	for _, r := range []admins.Role{admins.Viewer, admins.Editor, admins.Publisher, admins.Operator} {
		auth[r] = admLogin(t, c, "a-"+r.String(), r)
	}
	noCSRF := func(a *ovenv1.AdminAuth) *ovenv1.AdminAuth { return &ovenv1.AdminAuth{SessionToken: a.SessionToken} }
	doc := admDoc(t, c, setLivesMax(6))
	calls := map[string]func(a *ovenv1.AdminAuth) error{
		"read draft": func(a *ovenv1.AdminAuth) error { _, err := adm.GetDraft(bg, &ovenv1.AdminRequest{Auth: a}); return err },
		"read audit": func(a *ovenv1.AdminAuth) error {
			_, err := adm.ListAudit(bg, &ovenv1.ListAuditRequest{Auth: a})
			return err
		},
		"read player": func(a *ovenv1.AdminAuth) error {
			_, err := adm.GetPlayer(bg, &ovenv1.AdminPlayerRequest{Auth: a, PlayerId: player})
			return err
		},
		"save draft": func(a *ovenv1.AdminAuth) error {
			_, err := adm.PutDraft(bg, &ovenv1.DraftRequest{Auth: a, Document: doc})
			return err
		},
		"rollback": func(a *ovenv1.AdminAuth) error {
			// Version 1 is published: a permitted caller gets conflict, which proves it got in.
			_, err := adm.Rollback(bg, &ovenv1.RollbackRequest{Auth: a, Version: 1})
			return err
		},
		"ban": func(a *ovenv1.AdminAuth) error {
			_, err := adm.SetBanned(bg, &ovenv1.SetBannedRequest{Auth: a, PlayerId: player, Banned: false})
			return err
		},
	}
	tests := []struct {
		call, who string
		auth      *ovenv1.AdminAuth
		want      string
	}{
		{"read draft", "nobody", nil, oven.EUnauthenticated},
		{"read draft", "a forged session", &ovenv1.AdminAuth{SessionToken: "forged"}, oven.EUnauthenticated},
		{"read draft", "viewer", auth[admins.Viewer], ""},
		{"read audit", "viewer", auth[admins.Viewer], ""},
		{"read player", "viewer", auth[admins.Viewer], ""},
		{"save draft", "viewer", auth[admins.Viewer], oven.EForbidden},
		{"save draft", "editor without csrf", noCSRF(auth[admins.Editor]), oven.EForbidden},
		{"save draft", "editor with another's csrf", &ovenv1.AdminAuth{SessionToken: auth[admins.Editor].SessionToken, CsrfToken: auth[admins.Operator].CsrfToken}, oven.EForbidden},
		{"save draft", "editor", auth[admins.Editor], ""},
		{"rollback", "editor", auth[admins.Editor], oven.EForbidden},
		{"rollback", "publisher", auth[admins.Publisher], oven.EConflict},
		{"rollback", "operator", auth[admins.Operator], oven.EConflict},
		{"ban", "publisher", auth[admins.Publisher], oven.EForbidden},
		{"ban", "operator without csrf", noCSRF(auth[admins.Operator]), oven.EForbidden},
		{"ban", "operator", auth[admins.Operator], ""},
	}
	for _, tt := range tests {
		t.Run(tt.call+" as "+tt.who, func(t *testing.T) {
			if got := code(calls[tt.call](tt.auth)); got != tt.want {
				t.Errorf("code %q, want %q", got, tt.want)
			}
		})
	}

	// A disabled account's live session stops working at once; logging out ends one.
	if _, err := c.DB.Exec(bg, `UPDATE admins SET disabled = true WHERE username = 'a-viewer'`); err != nil {
		t.Fatal(err)
	}
	if got := code(calls["read draft"](auth[admins.Viewer])); got != oven.EUnauthenticated {
		t.Errorf("disabled admin: code %q", got)
	}
	if _, err := adm.Logout(bg, &ovenv1.AdminRequest{Auth: auth[admins.Editor]}); err != nil {
		t.Fatal(err)
	}
	if got := code(calls["read draft"](auth[admins.Editor])); got != oven.EUnauthenticated {
		t.Errorf("after logout: code %q", got)
	}
}

func TestLoginThrottle(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{Shards: 1})
	adm := ovenv1.NewAdminClient(c.Router)
	for _, u := range []string{"alice", "bob"} {
		if _, err := admins.Put(bg, c.DB, "test", u, admPassword, admins.Viewer, bcrypt.MinCost); err != nil {
			t.Fatal(err)
		}
	}
	login := func(user, pw, ip string) error {
		_, err := adm.Login(bg, &ovenv1.LoginRequest{Username: user, Password: pw, ClientIp: ip})
		return grpcerr.FromStatus(err)
	}
	// Per username at one address: four failures are plain failures, the fifth locks
	// the username there.
	for range 4 {
		if err := login("alice", "wrong", "10.1.0.1"); oven.ErrorCode(err) != oven.EUnauthenticated {
			t.Fatalf("failure: %v", err)
		}
	}
	err := login("alice", "wrong", "10.1.0.1")
	if oven.ErrorCode(err) != oven.ERateLimited || oven.RetryAfter(err) < 59*time.Second || oven.RetryAfter(err) > 60*time.Second {
		t.Fatalf("fifth failure: %v (retry after %v), want rate_limited for ~60 s", err, oven.RetryAfter(err))
	}
	if err := login("alice", admPassword, "10.1.0.1"); oven.ErrorCode(err) != oven.ERateLimited {
		t.Fatalf("right password while locked: %v", err)
	}
	// The address is not locked: another admin behind it (the same office) signs in,
	// and so does alice from elsewhere.
	if err := login("bob", admPassword, "10.1.0.1"); err != nil {
		t.Fatalf("another admin at the locked pair's address: %v", err)
	}
	if err := login("alice", admPassword, "10.1.0.2"); err != nil {
		t.Fatalf("the same admin at another address: %v", err)
	}
	// The lock ends with its window.
	pair := c.Keys.GMSFailures("userip", redisdb.GMSUserAddress("alice", "10.1.0.1"))
	if err := c.Redis.PExpire(bg, pair, time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	if err := login("alice", admPassword, "10.1.0.1"); err != nil {
		t.Fatalf("after the lock: %v", err)
	}

	// Failures across usernames (existing or not) from one address lock nothing there.
	for i := range 10 {
		if err := login(fmt.Sprintf("nobody%d", i), "wrong", "10.2.0.1"); oven.ErrorCode(err) != oven.EUnauthenticated {
			t.Fatalf("failure %d: %v", i+1, err)
		}
	}
	if err := login("bob", admPassword, "10.2.0.1"); err != nil {
		t.Fatalf("an address with many failures for other usernames: %v", err)
	}

	// Per username from anywhere: failures spread over addresses, under the pair's
	// limit at each (four per address), lock the username everywhere at the 20th.
	for i := range 19 {
		if err := login("bob", "wrong", fmt.Sprintf("10.3.0.%d", i/4)); oven.ErrorCode(err) != oven.EUnauthenticated {
			t.Fatalf("bob's failure %d: %v", i+1, err)
		}
	}
	if err := login("bob", "wrong", "10.3.0.9"); oven.ErrorCode(err) != oven.ERateLimited {
		t.Fatalf("bob's 20th failure: %v, want rate_limited", err)
	}
	if err := login("bob", admPassword, "10.3.1.1"); oven.ErrorCode(err) != oven.ERateLimited {
		t.Fatalf("right password from a new address while the username is locked: %v", err)
	}
	if err := c.Redis.PExpire(bg, c.Keys.GMSFailures("user", "bob"), time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	if err := login("bob", admPassword, "10.3.1.1"); err != nil {
		t.Fatalf("after the username's lock: %v", err)
	}
}

func TestGameDataLifecycle(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{Shards: 2})
	adm := ovenv1.NewAdminClient(c.Router)
	ed := admLogin(t, c, "ed", admins.Publisher)

	// A bad document is refused with every problem and changes nothing.
	bad := admDoc(t, c, func(m map[string]any) { setLivesMax(0)(m); m["starting"].(map[string]any)["cookie_id"] = "x" })
	resp, err := adm.PutDraft(bg, &ovenv1.DraftRequest{Auth: ed, Document: bad})
	if err != nil {
		t.Fatal(err)
	}
	want := []*ovenv1.ValidationProblem{{Path: "lives.max", Message: "must be > 0"}, {Path: "starting.cookie_id", Message: `unknown cookie "x"`}}
	if diff := cmp.Diff(want, resp.Problems, cmpProto()); diff != "" || resp.Draft != nil {
		t.Fatalf("problems (-want +got)\n%s", diff)
	}
	if _, err := adm.Publish(bg, &ovenv1.AdminRequest{Auth: ed}); code(err) != oven.EConflict {
		t.Fatalf("publishing an unchanged draft: %v", err)
	}

	// Save, publish: version 2 carries its number and the edit.
	resp, err = adm.PutDraft(bg, &ovenv1.DraftRequest{Auth: ed, Document: admDoc(t, c, setLivesMax(7))})
	if err != nil || len(resp.Problems) > 0 {
		t.Fatalf("%v %v", err, resp.GetProblems())
	}
	if resp.Draft.UpdatedBy != "ed" || resp.Draft.PublishedVersion != 1 {
		t.Errorf("draft %+v", resp.Draft)
	}
	pub, err := adm.Publish(bg, &ovenv1.AdminRequest{Auth: ed})
	if err != nil || pub.Version != 2 {
		t.Fatalf("publish: %v %v", pub, err)
	}
	gd := gameData(t, c, 2)
	if gd.Lives.Max != 7 || gd.Version != 2 {
		t.Fatalf("version 2: %+v", gd)
	}

	// Rollback to 1 publishes 1's document as version 3 and resets the draft to it.
	rb, err := adm.Rollback(bg, &ovenv1.RollbackRequest{Auth: ed, Version: 1})
	if err != nil || rb.Version != 3 || rb.SourceVersion != 1 {
		t.Fatalf("rollback: %v %v", rb, err)
	}
	if gd := gameData(t, c, 3); gd.Lives.Max != 5 || gd.Version != 3 {
		t.Fatalf("version 3: %+v", gd)
	}
	draft, err := adm.GetDraft(bg, &ovenv1.AdminRequest{Auth: ed})
	if err != nil || !json.Valid(draft.Document) || draft.PublishedVersion != 3 {
		t.Fatalf("draft after rollback: %v", err)
	}
	var dd struct {
		Version int64
		Lives   struct{ Max int64 }
	}
	json.Unmarshal(draft.Document, &dd)
	if dd.Lives.Max != 5 || dd.Version != 0 {
		t.Errorf("draft after rollback: %+v", dd)
	}
	if _, err := adm.Rollback(bg, &ovenv1.RollbackRequest{Auth: ed, Version: 9}); code(err) != oven.ENotFound {
		t.Errorf("rollback to a missing version: %v", err)
	}

	vs, err := adm.ListVersions(bg, &ovenv1.ListVersionsRequest{Auth: ed})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range vs.Versions {
		got = append(got, fmt.Sprintf("%d by %s from %d", v.Version, v.CreatedBy, v.SourceVersion))
	}
	if diff := cmp.Diff([]string{"3 by ed from 1", "2 by ed from 0", "1 by seed from 0"}, got); diff != "" || vs.PublishedVersion != 3 {
		t.Errorf("versions (-want +got)\n%s", diff)
	}

	// Versions are immutable, in SQL too.
	if _, err := c.DB.Exec(bg, `UPDATE gamedata_versions SET created_by = 'x' WHERE version = 2`); err == nil {
		t.Error("a version row could be updated")
	}

	// Every change left an audit row, newest first.
	log, err := adm.ListAudit(bg, &ovenv1.ListAuditRequest{Auth: ed, Limit: 4})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range log.Entries {
		actions = append(actions, e.Actor+" "+e.Action+" "+e.Target)
	}
	if diff := cmp.Diff([]string{"ed gamedata.rollback gamedata", "ed gamedata.publish gamedata", "ed gamedata.draft.save draft", "ed login ed"}, actions); diff != "" {
		t.Errorf("audit (-want +got)\n%s", diff)
	}
	var after map[string]int64
	if err := json.Unmarshal(log.Entries[0].After, &after); err != nil || after["version"] != 3 || after["source_version"] != 1 {
		t.Errorf("rollback audit after = %s", log.Entries[0].After)
	}
}

type gdLives struct {
	Version int64
	Lives   struct{ Max int64 }
}

func gameData(t *testing.T, c *shardtest.Cluster, version int64) gdLives {
	t.Helper()
	gd, err := c.Game.GetGameData(bg, &ovenv1.GetGameDataRequest{Version: version})
	if err != nil {
		t.Fatal(err)
	}
	var d gdLives
	if err := json.Unmarshal(gd.Document, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// A publish reaches every shard through LISTEN/NOTIFY: the periodic refresh is set to an
// hour here, so nothing else could bring it in time.
func TestPublishReachesEveryShardAtOnce(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{Shards: 3, GameDataRefresh: time.Hour})
	adm := ovenv1.NewAdminClient(c.Router)
	ed := admLogin(t, c, "pub", admins.Publisher)
	for round, max := range []int{8, 9, 3} {
		if _, err := adm.PutDraft(bg, &ovenv1.DraftRequest{Auth: ed, Document: admDoc(t, c, setLivesMax(max))}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		pub, err := adm.Publish(bg, &ovenv1.AdminRequest{Auth: ed})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for _, m := range c.Members {
			wg.Go(func() {
				shard, err := c.Router.Shard(m)
				if err != nil {
					t.Error(err)
					return
				}
				for {
					gd, err := shard.GetGameData(bg, &ovenv1.GetGameDataRequest{})
					if err == nil && gd.Version == pub.Version {
						t.Logf("round %d: shard %s serves version %d %v after the publish call started", round, m.ID, pub.Version, time.Since(start))
						return
					}
					if time.Since(start) > 5*time.Second {
						t.Errorf("shard %s still serves %v (%v) 5 s after publishing %d", m.ID, gd.GetVersion(), err, pub.Version)
						return
					}
					time.Sleep(time.Millisecond)
				}
			})
		}
		wg.Wait()
		t.Logf("round %d: publish → all 3 shards serving version %d: %v", round, pub.Version, time.Since(start))
	}
}

func TestBanIsEnforcedByTheOwner(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{Shards: 3})
	adm := ovenv1.NewAdminClient(c.Router)
	op := admLogin(t, c, "op", admins.Operator)
	id := guest(t, c, "device-to-ban")
	other := guest(t, c, "device-not-banned")
	me(t, c, id) // cache the unbanned flag on the owner

	p, err := adm.SetBanned(bg, &ovenv1.SetBannedRequest{Auth: op, PlayerId: id, Banned: true, Reason: "cheating"})
	if err != nil || !p.Banned || p.Profile.PlayerId != id {
		t.Fatalf("ban: %v %v", p, err)
	}
	// At once, with no wait: the owner updated its own cache.
	if _, err := c.Game.GetMe(bg, &ovenv1.PlayerRequest{PlayerId: id}); code(err) != oven.EBanned {
		t.Fatalf("GetMe of a banned player: %v", err)
	}
	if _, err := start(c, id); code(err) != oven.EBanned {
		t.Fatalf("StartPlay of a banned player: %v", err)
	}
	if _, err := c.Game.WhoOwns(bg, &ovenv1.PlayerRequest{PlayerId: id}); err != nil {
		t.Errorf("WhoOwns is exempt: %v", err)
	}
	me(t, c, other)
	// Others' calls that reach the banned player's owner still work: a friend's life lands.
	befriend(t, c, other, id)
	if _, err := c.Game.SendLife(bg, &ovenv1.FriendRequest{PlayerId: other, FriendId: id}); err != nil {
		t.Errorf("a friend's life to a banned player: %v", err)
	}
	if _, err := c.Game.ListMailbox(bg, &ovenv1.PlayerRequest{PlayerId: id}); code(err) != oven.EBanned {
		t.Errorf("a banned player's mailbox: %v", err)
	}
	if got, err := adm.GetPlayer(bg, &ovenv1.AdminPlayerRequest{Auth: op, PlayerId: id}); err != nil || !got.Banned {
		t.Errorf("lookup of a banned player: %v %v", got, err)
	}
	var banned bool
	if err := c.DB.QueryRow(bg, `SELECT banned FROM players WHERE player_id = $1`, id).Scan(&banned); err != nil || !banned {
		t.Errorf("players.banned = %v (%v)", banned, err)
	}

	if _, err := adm.SetBanned(bg, &ovenv1.SetBannedRequest{Auth: op, PlayerId: id, Banned: false}); err != nil {
		t.Fatal(err)
	}
	me(t, c, id)
	if _, err := adm.SetBanned(bg, &ovenv1.SetBannedRequest{Auth: op, PlayerId: "424242", Banned: true}); code(err) != oven.ENotFound {
		t.Errorf("ban of a missing player: %v", err)
	}

	log, err := adm.ListAudit(bg, &ovenv1.ListAuditRequest{Auth: op, Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range log.Entries {
		got = append(got, fmt.Sprintf("%s %s %s %s → %s", e.Actor, e.Action, e.Target, e.Before, e.After))
	}
	want := []string{
		`op player.unban ` + id + ` {"banned": true} → {"banned": false}`,
		`op player.ban ` + id + ` {"banned": false} → {"banned": true, "reason": "cheating"}`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("audit (-want +got)\n%s", diff)
	}
}

// A ban made behind Oven's back (SQL plus the notification) reaches the owner's set
// through LISTEN, long before the periodic reload.
func TestBanNotificationReachesOwner(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{Shards: 2})
	id := guest(t, c, "device-sql-ban")
	me(t, c, id)
	if _, err := c.DB.Exec(bg, `UPDATE players SET banned = true WHERE player_id = $1`, id); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DB.Exec(bg, `SELECT pg_notify('oven_bans', $1)`, id+":1"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for code := ""; code != oven.EBanned; {
		_, err := c.Game.GetMe(bg, &ovenv1.PlayerRequest{PlayerId: id})
		code = oven.ErrorCode(grpcerr.FromStatus(err))
		if time.Since(start) > 3*time.Second {
			t.Fatalf("still %q 3 s after the notification", code)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Many goroutines call as one player while an operator bans and unbans it: the race
// detector watches the cache, and the last word always holds.
func TestBanRace(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{Shards: 2})
	adm := ovenv1.NewAdminClient(c.Router)
	op := admLogin(t, c, "racer", admins.Operator)
	id := guest(t, c, "device-ban-race")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, err := c.Game.GetMe(bg, &ovenv1.PlayerRequest{PlayerId: id})
				if got := code(err); got != "" && got != oven.EBanned {
					t.Errorf("GetMe: %v", err)
					return
				}
			}
		})
	}
	for i := range 20 {
		if _, err := adm.SetBanned(bg, &ovenv1.SetBannedRequest{Auth: op, PlayerId: id, Banned: i%2 == 0}); err != nil {
			t.Fatal(err)
		}
		_, err := c.Game.GetMe(bg, &ovenv1.PlayerRequest{PlayerId: id})
		if banned := code(err) == oven.EBanned; banned != (i%2 == 0) {
			t.Fatalf("step %d: banned = %v right after setting %v", i, banned, i%2 == 0)
		}
	}
	close(stop)
	wg.Wait()
}
