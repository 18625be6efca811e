// Package admins is the GMS's accounts and sessions: admins with roles, bcrypt password
// hashes, sessions with CSRF tokens kept in Redis with an expiry, throttling of failed
// logins, and the command that adds an admin.
//
// Sessions and login throttles live on real time, never the game clock: the dev clock
// must not move security deadlines.
package admins

import (
	"github.com/ovengames/oven"
)

// Role is what an admin may do. Each role may do everything the ones below it may.
type Role int

// The roles, weakest first.
const (
	// Viewer reads everything: game data, versions, players and the audit log.
	Viewer Role = iota + 1
	// Editor also edits the game-data draft.
	Editor
	// Publisher also publishes and rolls back game data.
	Publisher
	// Operator also bans and unbans players (and sends gifts).
	Operator
)

var roleNames = map[Role]string{Viewer: "viewer", Editor: "editor", Publisher: "publisher", Operator: "operator"}

// String returns the role's API name.
func (r Role) String() string {
	if n, ok := roleNames[r]; ok {
		return n
	}
	return "none"
}

// ParseRole parses an API role name; invalid_argument for anything else.
func ParseRole(s string) (Role, error) {
	for r, n := range roleNames {
		if n == s {
			return r, nil
		}
	}
	return 0, oven.Errorf(oven.EInvalid, "role must be viewer, editor, publisher or operator, not %q", s)
}
