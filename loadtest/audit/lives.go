package audit

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/couchbase/gocb/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/ovengames/oven/application/mailbox"
	"github.com/ovengames/oven/application/redisdb"
)

// Invariant 1 for lives: every life sent appears exactly once, either waiting in the
// receiver's Couchbase mailbox (items, or claiming while an accept is under way) or
// accepted (its claim id in the receiver's Redis claimed set), and the counts add up.

// LifeMail is one life item of a mailbox, as the audit reads it.
type LifeMail struct {
	ID        string
	From      string
	Amount    int64
	ExpiresAt int64 // game-clock unix ms
}

// LifeMailbox is the life items of one receiver's mailbox document.
type LifeMailbox struct {
	Items    []LifeMail
	Claiming []LifeMail
}

// Cooldown is one sender→receiver cooldown hash still present in Redis.
type Cooldown struct {
	Sender, Receiver string
	State            string // pending | sent
	MailID           string
	SentAt           int64 // t, game-clock ms
}

// LivesInput is everything ReconcileLives compares. Metrics are summed over the shards;
// a negative metric means it could not be read.
type LivesInput struct {
	Mailboxes      map[string]LifeMailbox // receiver → life items
	Claimed        map[string][]string    // receiver → claimed life claim ids ("<id>", "<id>#2", …)
	Cooldowns      []Cooldown
	AckedSends     int64 // lives the VPs saw sent (200 answers)
	AckedAccepts   int64 // lives the VPs saw accepted
	MetricSent     int64 // oven_lives_sent_total
	MetricAccepted int64 // oven_lives_accepted_total
	MetricExpired  int64 // oven_lives_expired_total (expired items pruned from mailboxes)
	NowMS          int64 // to tell expired waiting items apart
	MailTTLMS      int64 // mail lifetime; 0 = unknown (a missing mail is then always lost)
}

// LivesTally is the outcome of ReconcileLives.
type LivesTally struct {
	Receivers        int      `json:"receivers"`         // mailboxes or claimed sets seen
	SentCooldowns    int64    `json:"sent_cooldowns"`    // cooldowns marked sent, still present
	PendingCooldowns int64    `json:"pending_cooldowns"` // reserved, delivery unfinished or refused
	FoundWaiting     int64    `json:"found_waiting"`     // sent cooldowns whose mail is in the mailbox
	FoundAccepted    int64    `json:"found_accepted"`    // … whose mail is in the claimed set
	FoundExpired     int64    `json:"found_expired"`     // … missing, but past the mail TTL
	Waiting          int64    `json:"waiting"`           // life units in items (not expired)
	WaitingExpired   int64    `json:"waiting_expired"`   // life units in items past their exp, not pruned yet
	Claiming         int64    `json:"claiming"`          // life units in claiming
	ClaimingCredited int64    `json:"claiming_credited"` // … of which the claim is already in the claimed set
	Accepted         int64    `json:"accepted"`          // claim ids in claimed sets
	Delivered        int64    `json:"delivered"`         // waiting + expired waiting + claiming (not credited) + accepted
	PendingDelivered int64    `json:"pending_delivered"` // delivered mail of cooldowns still pending
	MetricSent       int64    `json:"metric_sent"`
	MetricAccepted   int64    `json:"metric_accepted"`
	MetricExpired    int64    `json:"metric_expired"`
	AckedSends       int64    `json:"acked_sends"`
	AckedAccepts     int64    `json:"acked_accepts"`
	Problems         []string `json:"problems,omitempty"` // one line per violation
	Checked          int64    `json:"checked"`
}

func (t *LivesTally) problem(format string, args ...any) {
	t.Problems = append(t.Problems, fmt.Sprintf(format, args...))
}

// baseClaimID maps a claim id of a multi-life gift ("<id>#2") to its mail id.
func baseClaimID(id string) string {
	if i := strings.LastIndexByte(id, '#'); i > 0 {
		return id[:i]
	}
	return id
}

// ReconcileLives checks that every sent cooldown's mail is in exactly one place, that no
// mail id appears twice, and that the counts agree: lives delivered + expired (pruned) =
// lives sent (+ deliveries of cooldowns still pending); accepted claims = lives accepted;
// the VPs' acknowledged sends and accepts are within the server's counts.
func ReconcileLives(in LivesInput) LivesTally {
	t := LivesTally{MetricSent: in.MetricSent, MetricAccepted: in.MetricAccepted, MetricExpired: in.MetricExpired,
		AckedSends: in.AckedSends, AckedAccepts: in.AckedAccepts}
	type where struct {
		receiver string
		from     string
		claiming bool
	}
	inBox := map[string]where{} // mail id → where it waits
	claimed := map[string]map[string]bool{}
	receivers := map[string]bool{}
	for r, ids := range in.Claimed {
		receivers[r] = true
		set := map[string]bool{}
		for _, id := range ids {
			if set[id] {
				t.problem("receiver %s: claim id %s twice in the claimed set", r, id)
			}
			set[id] = true
			set[baseClaimID(id)] = true
		}
		claimed[r] = set
		t.Accepted += int64(len(ids))
	}
	for _, r := range slices.Sorted(maps.Keys(in.Mailboxes)) {
		mb := in.Mailboxes[r]
		if len(mb.Items)+len(mb.Claiming) > 0 {
			receivers[r] = true
		}
		add := func(m LifeMail, claiming bool) {
			if w, dup := inBox[m.ID]; dup {
				t.problem("mail %s is in the mailbox of %s and again in that of %s", m.ID, w.receiver, r)
				return
			}
			inBox[m.ID] = where{r, m.From, claiming}
			switch {
			case claiming && claimed[r][m.ID]:
				// Credited, not cleared yet (an accept in flight or a crash after step 2):
				// the claimed set already counts it.
				t.ClaimingCredited += m.Amount
			case claiming:
				t.Claiming += m.Amount
			case claimed[r][m.ID]:
				t.problem("mail %s of receiver %s is waiting in the mailbox and also accepted", m.ID, r)
			case m.ExpiresAt <= in.NowMS:
				t.WaitingExpired += m.Amount
			default:
				t.Waiting += m.Amount
			}
		}
		for _, m := range mb.Items {
			add(m, false)
		}
		for _, m := range mb.Claiming {
			add(m, true)
		}
	}
	t.Receivers = len(receivers)
	t.Delivered = t.Waiting + t.WaitingExpired + t.Claiming + t.Accepted

	byMail := map[string]Cooldown{}
	for _, c := range in.Cooldowns {
		if c.MailID == "" {
			continue
		}
		if prev, dup := byMail[c.MailID]; dup {
			t.problem("mail id %s reserved by two cooldowns: %s→%s and %s→%s", c.MailID, prev.Sender, prev.Receiver, c.Sender, c.Receiver)
			continue
		}
		byMail[c.MailID] = c
		w, waiting := inBox[c.MailID]
		accepted := claimed[c.Receiver][c.MailID]
		if c.State != "sent" {
			t.PendingCooldowns++
			if waiting || accepted {
				t.PendingDelivered++
			}
			continue
		}
		t.SentCooldowns++
		t.Checked++
		switch {
		case waiting && w.receiver != c.Receiver:
			t.problem("life %s sent %s→%s is in the mailbox of %s", c.MailID, c.Sender, c.Receiver, w.receiver)
		case waiting && w.from != c.Sender:
			t.problem("life %s sent by %s is in %s's mailbox as from %q", c.MailID, c.Sender, c.Receiver, w.from)
		case waiting && accepted && !w.claiming:
			// counted above as a problem of the mailbox
		case waiting:
			t.FoundWaiting++
		case accepted:
			t.FoundAccepted++
		case in.MailTTLMS > 0 && c.SentAt+in.MailTTLMS <= in.NowMS:
			t.FoundExpired++
		default:
			t.problem("life %s sent %s→%s (cooldown marked sent) is neither in the mailbox nor accepted", c.MailID, c.Sender, c.Receiver)
		}
	}

	if in.MetricSent >= 0 && in.MetricExpired >= 0 {
		t.Checked++
		if got, want := t.Delivered+in.MetricExpired, in.MetricSent+t.PendingDelivered; got != want {
			t.problem("lives delivered %d + expired %d = %d, but sent %d + delivered for pending cooldowns %d = %d",
				t.Delivered, in.MetricExpired, got, in.MetricSent, t.PendingDelivered, want)
		}
		t.Checked++
		if in.AckedSends > in.MetricSent {
			t.problem("the VPs saw %d lives sent, the shards counted %d", in.AckedSends, in.MetricSent)
		}
	}
	if in.MetricAccepted >= 0 {
		t.Checked++
		if t.Accepted != in.MetricAccepted {
			t.problem("claimed sets hold %d life claims, the shards counted %d accepted", t.Accepted, in.MetricAccepted)
		}
		t.Checked++
		if in.AckedAccepts > in.MetricAccepted {
			t.problem("the VPs saw %d lives accepted, the shards counted %d", in.AckedAccepts, in.MetricAccepted)
		}
	}
	slices.Sort(t.Problems)
	return t
}

// Summary is the counts in a sentence.
func (t *LivesTally) Summary() string {
	return fmt.Sprintf("%d receivers; %d cooldowns marked sent still present (%d waiting, %d accepted, %d expired), %d pending (%d of them delivered); "+
		"life units delivered %d = waiting %d + waiting past expiry %d + claiming %d + accepted %d (%d more claiming already credited); "+
		"shards: sent %d, accepted %d, expired %d; VPs acknowledged %d sent, %d accepted",
		t.Receivers, t.SentCooldowns, t.FoundWaiting, t.FoundAccepted, t.FoundExpired, t.PendingCooldowns, t.PendingDelivered,
		t.Delivered, t.Waiting, t.WaitingExpired, t.Claiming, t.Accepted, t.ClaimingCredited,
		t.MetricSent, t.MetricAccepted, t.MetricExpired, t.AckedSends, t.AckedAccepts)
}

// LivesConfig locates what checkLivesMail reads besides PostgreSQL and Redis.
type LivesConfig struct {
	CouchbaseURL      string
	CouchbaseUser     string // default "oven"
	CouchbasePassword string
	CouchbaseBucket   string   // default "game"
	ShardMetrics      []string // host:port of each shard's /metrics
	AckedSends        int64
	AckedAccepts      int64
	MailTTL           time.Duration
}

// checkLivesMail gathers the stores' view and reconciles it (invariant 1, lives).
func checkLivesMail(ctx context.Context, db *pgxpool.Pool, rdb redis.UniversalClient, lc LivesConfig, now time.Time, c *Check) (*LivesTally, error) {
	if db == nil || rdb == nil {
		return nil, nil
	}
	in := LivesInput{Mailboxes: map[string]LifeMailbox{}, Claimed: map[string][]string{},
		AckedSends: lc.AckedSends, AckedAccepts: lc.AckedAccepts, NowMS: now.UnixMilli(), MailTTLMS: lc.MailTTL.Milliseconds()}
	// Metrics first: the stores are read after, and nothing runs meanwhile.
	var err error
	if in.MetricSent, in.MetricAccepted, in.MetricExpired, err = readLivesMetrics(ctx, lc.ShardMetrics); err != nil {
		return nil, err
	}
	// Coin claims and broadcasts share the claimed sets; they are not lives.
	notLife := map[string]bool{}
	rows, err := db.Query(ctx, `SELECT player_id::text || ' ' || mail_id FROM mail_claims
		UNION ALL SELECT '* ' || broadcast_id FROM broadcasts`)
	if err != nil {
		return nil, fmt.Errorf("mail_claims: %w", err)
	}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			rows.Close()
			return nil, err
		}
		notLife[k] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	candidates := map[string]bool{}
	err = scanKeys(ctx, rdb, redisKeys.Pattern(redisdb.KindCooldown), func(keys []string) error {
		pipe := rdb.Pipeline()
		cmds := make([]*redis.MapStringStringCmd, len(keys))
		for i, k := range keys {
			cmds[i] = pipe.HGetAll(ctx, k)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("cooldowns: %w", err)
		}
		for i, k := range keys {
			sender, receiver, ok := parseCooldownKey(k)
			v := cmds[i].Val()
			if !ok || len(v) == 0 {
				continue
			}
			t, _ := strconv.ParseInt(v["t"], 10, 64)
			in.Cooldowns = append(in.Cooldowns, Cooldown{Sender: sender, Receiver: receiver, State: v["s"], MailID: v["id"], SentAt: t})
			candidates[receiver] = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = scanKeys(ctx, rdb, redisKeys.Pattern(redisdb.KindClaimed), func(keys []string) error {
		pipe := rdb.Pipeline()
		cmds := make([]*redis.StringSliceCmd, len(keys))
		for i, k := range keys {
			cmds[i] = pipe.ZRange(ctx, k, 0, -1)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("claimed: %w", err)
		}
		for i, k := range keys {
			_, owner, _, _ := redisKeys.Parse(k)
			candidates[owner] = true
			for _, id := range cmds[i].Val() {
				if !notLife[owner+" "+id] && !notLife["* "+id] {
					in.Claimed[owner] = append(in.Claimed[owner], id)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Anyone who has or had a friend may have been sent a life.
	rows, err = db.Query(ctx, `SELECT DISTINCT friend_id::text FROM friendships`)
	if err != nil {
		return nil, fmt.Errorf("friendships: %w", err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		candidates[id] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if err := readMailboxes(ctx, lc, slices.Sorted(maps.Keys(candidates)), in.Mailboxes); err != nil {
		return nil, err
	}
	t := ReconcileLives(in)
	c.Checked = t.Checked
	for _, p := range t.Problems {
		c.violate("%s", p)
	}
	c.Violations = int64(len(t.Problems))
	return &t, nil
}

// parseCooldownKey splits a cooldown key into its sender and receiver.
func parseCooldownKey(k string) (sender, receiver string, ok bool) {
	kind, sender, receiver, ok := redisKeys.Parse(k)
	return sender, receiver, ok && kind == redisdb.KindCooldown && receiver != ""
}

func readMailboxes(ctx context.Context, lc LivesConfig, players []string, out map[string]LifeMailbox) error {
	if lc.CouchbaseURL == "" || lc.CouchbasePassword == "" {
		return errors.New("no couchbase url or password (stack.json couchbase_url, couchbase_password)")
	}
	user, bucket := cmpOr(lc.CouchbaseUser, "oven"), cmpOr(lc.CouchbaseBucket, "game")
	cluster, err := gocb.Connect(lc.CouchbaseURL, gocb.ClusterOptions{
		Authenticator:  gocb.PasswordAuthenticator{Username: user, Password: lc.CouchbasePassword},
		TimeoutsConfig: gocb.TimeoutsConfig{ConnectTimeout: 10 * time.Second, KVTimeout: 10 * time.Second},
	})
	if err != nil {
		return fmt.Errorf("couchbase: %w", err)
	}
	defer cluster.Close(nil)
	b := cluster.Bucket(bucket)
	if err := b.WaitUntilReady(15*time.Second, &gocb.WaitUntilReadyOptions{Context: ctx,
		ServiceTypes: []gocb.ServiceType{gocb.ServiceTypeKeyValue}}); err != nil {
		return fmt.Errorf("couchbase: %w", err)
	}
	col := b.DefaultCollection()
	var mu sync.Mutex
	var firstErr error
	work := make(chan string)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for id := range work {
				mb, err := readMailbox(ctx, col, id)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				if err == nil && len(mb.Items)+len(mb.Claiming) > 0 {
					out[id] = mb
				}
				mu.Unlock()
			}
		})
	}
	for _, id := range players {
		work <- id
	}
	close(work)
	wg.Wait()
	return firstErr
}

func readMailbox(ctx context.Context, col *gocb.Collection, player string) (LifeMailbox, error) {
	res, err := col.Get("mb:"+player, &gocb.GetOptions{Context: ctx})
	if errors.Is(err, gocb.ErrDocumentNotFound) {
		return LifeMailbox{}, nil
	}
	if err != nil {
		return LifeMailbox{}, fmt.Errorf("mailbox of %s: %w", player, err)
	}
	var d struct {
		Items    []mailbox.Item `json:"items"`
		Claiming []mailbox.Item `json:"claiming"`
	}
	if err := res.Content(&d); err != nil {
		return LifeMailbox{}, fmt.Errorf("mailbox of %s: %w", player, err)
	}
	var mb LifeMailbox
	conv := func(items []mailbox.Item) []LifeMail {
		var out []LifeMail
		for _, it := range items {
			if it.Kind == mailbox.KindLife {
				out = append(out, LifeMail{ID: it.ID, From: it.From, Amount: it.Amount, ExpiresAt: it.ExpiresAt})
			}
		}
		return out
	}
	mb.Items, mb.Claiming = conv(d.Items), conv(d.Claiming)
	return mb, nil
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// readLivesMetrics sums oven_lives_{sent,accepted,expired}_total over the shards; -1
// each when no shard address is known.
func readLivesMetrics(ctx context.Context, addrs []string) (sent, accepted, expired int64, err error) {
	if len(addrs) == 0 {
		return -1, -1, -1, nil
	}
	client := &http.Client{Timeout: 5 * time.Second}
	for _, a := range addrs {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+a+"/metrics", nil)
		if err != nil {
			return 0, 0, 0, err
		}
		res, err := client.Do(req)
		if err != nil {
			return 0, 0, 0, fmt.Errorf("shard metrics %s: %w", a, err)
		}
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			name, v, ok := strings.Cut(sc.Text(), " ")
			if !ok {
				continue
			}
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			switch name {
			case "oven_lives_sent_total":
				sent += int64(f)
			case "oven_lives_accepted_total":
				accepted += int64(f)
			case "oven_lives_expired_total":
				expired += int64(f)
			}
		}
		res.Body.Close()
	}
	return sent, accepted, expired, nil
}
