package vp

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"
)

// The social actions of API.md (friends, lives, mailbox, leaderboards). They run only
// with Behaviour.Social; until the routes land the server answers 404 "no route",
// which counts as stats.Missing so that the report shows what is not there yet.

// friendsPerNewPlayer is how many earlier players of the run a new player befriends.
const friendsPerNewPlayer = 3

type livesAnswer struct {
	Lives *livesJSON `json:"lives"`
	Coins *int64     `json:"coins"`
}

// socialMenu is what a player does in the social menu before playing: make friends
// (new players), send lives, collect the mailbox, look at the friends' board.
func (p *player) socialMenu(ctx context.Context) error {
	if !p.returning {
		for _, id := range p.env.Players.Pick(p.rng, friendsPerNewPlayer, p.dev.PlayerID) {
			res, err := p.do(ctx, Call{Route: "PUT /v1/friends/{id}", Method: http.MethodPut,
				Path: "/v1/friends/" + url.PathEscape(id), Social: true})
			if err != nil {
				return err
			}
			if res.Status == http.StatusNoContent {
				p.env.Obs.add(CountFriendships, 1)
			}
		}
	}
	friends, err := p.friends(ctx)
	if err != nil {
		return err
	}
	if err := p.sendLives(ctx, friends); err != nil {
		return err
	}
	if err := p.mailbox(ctx); err != nil {
		return err
	}
	_, err = p.do(ctx, Call{Route: "GET /v1/leaderboard/friends", Method: http.MethodGet,
		Path: "/v1/leaderboard/friends", Social: true})
	return err
}

type friend struct {
	PlayerID    string `json:"player_id"`
	CanSendLife bool   `json:"can_send_life"`
}

func (p *player) friends(ctx context.Context) ([]friend, error) {
	res, err := p.do(ctx, Call{Route: "GET /v1/friends", Method: http.MethodGet, Path: "/v1/friends", Social: true})
	if err != nil || res.Status != http.StatusOK {
		return nil, err
	}
	var f struct {
		Friends []friend `json:"friends"`
	}
	_ = json.Unmarshal(res.Body, &f)
	return f.Friends, nil
}

// sendLives sends a life to every friend who can take one: half the players use the
// bulk route, half send one by one (a cooldown or a full mailbox is an expected refusal).
func (p *player) sendLives(ctx context.Context, friends []friend) error {
	if p.rng.IntN(2) == 0 || len(friends) == 0 {
		res, err := p.do(ctx, Call{Route: "POST /v1/friends/lives", Method: http.MethodPost,
			Path: "/v1/friends/lives", Social: true})
		if err != nil {
			return err
		}
		var s struct {
			Sent []string `json:"sent"`
		}
		if res.Status == http.StatusOK && json.Unmarshal(res.Body, &s) == nil {
			for _, to := range s.Sent {
				p.env.Obs.lifeSent(p.dev.PlayerID, to, res.Done, p.cooldown())
			}
		}
		return nil
	}
	for _, f := range friends {
		if !f.CanSendLife {
			continue
		}
		res, err := p.do(ctx, Call{Route: "POST /v1/friends/{id}/life", Method: http.MethodPost,
			Path: "/v1/friends/" + url.PathEscape(f.PlayerID) + "/life", Social: true,
			Expect: []Refusal{{http.StatusConflict, "already_sent"}, {http.StatusConflict, "mailbox_full"}}})
		if err != nil {
			return err
		}
		if res.Status == http.StatusOK {
			p.env.Obs.lifeSent(p.dev.PlayerID, f.PlayerID, res.Done, p.cooldown())
		}
	}
	return nil
}

// cooldown is the game data's send cooldown.
func (p *player) cooldown() time.Duration {
	return time.Duration(p.doc.Lives.SendCooldownSeconds) * time.Second
}

// mailbox lists the mailbox, accepts the newest item by id and then the rest at once.
func (p *player) mailbox(ctx context.Context) error {
	res, err := p.do(ctx, Call{Route: "GET /v1/mailbox", Method: http.MethodGet, Path: "/v1/mailbox", Social: true})
	if err != nil || res.Status != http.StatusOK {
		return err
	}
	var mb struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	if json.Unmarshal(res.Body, &mb) != nil || len(mb.Items) == 0 {
		return nil
	}
	res, err = p.do(ctx, Call{Route: "POST /v1/mailbox/{id}/accept", Method: http.MethodPost,
		Path: "/v1/mailbox/" + url.PathEscape(mb.Items[0].ID) + "/accept", Social: true})
	if err != nil {
		return err
	}
	p.applyLives(res)
	if res.Status == http.StatusOK {
		p.env.Obs.add(CountLivesAccepted, 1)
	}
	if len(mb.Items) == 1 {
		return nil
	}
	res, err = p.do(ctx, Call{Route: "POST /v1/mailbox/accept-all", Method: http.MethodPost,
		Path: "/v1/mailbox/accept-all", Social: true})
	if err != nil {
		return err
	}
	p.applyLives(res)
	var all struct {
		Accepted int64 `json:"accepted"`
	}
	if res.Status == http.StatusOK && json.Unmarshal(res.Body, &all) == nil {
		p.env.Obs.add(CountLivesAccepted, all.Accepted)
	}
	return nil
}

// applyLives takes the lives and coins of an accept answer.
func (p *player) applyLives(res *Response) {
	var a livesAnswer
	if res.Status != http.StatusOK || json.Unmarshal(res.Body, &a) != nil {
		return
	}
	if a.Lives != nil {
		p.lives, p.livesAt = *a.Lives, res.Done
	}
	if a.Coins != nil {
		p.coins = *a.Coins
	}
}

// socialLeaderboards is the end of a session: the global board and my place on it.
func (p *player) socialLeaderboards(ctx context.Context) error {
	if _, err := p.do(ctx, Call{Route: "GET /v1/leaderboard/global", Method: http.MethodGet,
		Path: "/v1/leaderboard/global?limit=20", Social: true}); err != nil {
		return err
	}
	_, err := p.do(ctx, Call{Route: "GET /v1/leaderboard/global/me", Method: http.MethodGet,
		Path: "/v1/leaderboard/global/me", Social: true})
	return err
}
