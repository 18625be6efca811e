package shard

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ovengames/oven/application/admins"
	"github.com/ovengames/oven/application/events"
	"github.com/ovengames/oven/proto/ovenv1"
)

// eventHorizon is how far ahead players see the calendar (API.md).
const eventHorizon = 7 * 24 * time.Hour

// ListEvents returns the player-visible events running now or starting within 7 days.
func (s *Server) ListEvents(_ context.Context, _ *ovenv1.ListEventsRequest) (*ovenv1.EventList, error) {
	now := s.Clock.Now()
	return eventList(s.Calendar.Upcoming(now, eventHorizon), now), nil
}

// ListLiveEvents lists the calendar (viewer).
func (a *AdminServer) ListLiveEvents(ctx context.Context, req *ovenv1.AdminRequest) (*ovenv1.EventList, error) {
	if _, err := a.authorize(ctx, req.Auth, admins.Viewer, false); err != nil {
		return nil, err
	}
	list, err := a.Game.Calendar.List(ctx)
	if err != nil {
		return nil, err
	}
	return eventList(list, a.Game.Clock.Now()), nil
}

// CreateLiveEvent schedules an event (publisher), audited in the same transaction.
func (a *AdminServer) CreateLiveEvent(ctx context.Context, req *ovenv1.LiveEventRequest) (*ovenv1.LiveEventResponse, error) {
	s, err := a.authorize(ctx, req.Auth, admins.Publisher, true)
	if err != nil {
		return nil, err
	}
	now := a.Game.Clock.Now()
	e, err := a.Game.Calendar.Create(ctx, eventFrom(req.GetEvent()), s.Username, now, eventAudit(s.Username, "event.create"))
	return eventResponse(e, now, err)
}

// UpdateLiveEvent changes the fields the patch sets (publisher), audited.
func (a *AdminServer) UpdateLiveEvent(ctx context.Context, req *ovenv1.LiveEventPatch) (*ovenv1.LiveEventResponse, error) {
	s, err := a.authorize(ctx, req.Auth, admins.Publisher, true)
	if err != nil {
		return nil, err
	}
	now := a.Game.Clock.Now()
	e, err := a.Game.Calendar.Update(ctx, req.Id, s.Username, now, func(e *events.Event) { patch(e, req) },
		eventAudit(s.Username, "event.update"))
	return eventResponse(e, now, err)
}

// CancelLiveEvent ends an event now (publisher), audited.
func (a *AdminServer) CancelLiveEvent(ctx context.Context, req *ovenv1.LiveEventIdRequest) (*ovenv1.LiveEventResponse, error) {
	s, err := a.authorize(ctx, req.Auth, admins.Publisher, true)
	if err != nil {
		return nil, err
	}
	now := a.Game.Clock.Now()
	e, err := a.Game.Calendar.Cancel(ctx, req.Id, s.Username, now, eventAudit(s.Username, "event.cancel"))
	return eventResponse(e, now, err)
}

func eventAudit(actor, action string) events.Audit {
	return func(ctx context.Context, tx pgx.Tx, before, after *events.Event) error {
		var b, a any
		if before != nil {
			b = eventAuditJSON(*before)
		}
		if after != nil {
			a = eventAuditJSON(*after)
		}
		return recorder(actor, action, after.ID)(ctx, tx, b, a)
	}
}

func eventAuditJSON(e events.Event) map[string]any {
	m := map[string]any{"kind": e.Kind, "title": e.Title, "starts_at": e.StartsAt, "value": e.Value,
		"expected_load": e.ExpectedLoad}
	if !e.EndsAt.IsZero() {
		m["ends_at"] = e.EndsAt
	}
	if e.Kind == events.KindPush {
		m["message"], m["audience"] = e.Message, e.Audience
	}
	if !e.CancelledAt.IsZero() {
		m["cancelled_at"] = e.CancelledAt
	}
	return m
}

// eventResponse answers a change: the stored event, or its problems (nothing written).
func eventResponse(e events.Event, now time.Time, err error) (*ovenv1.LiveEventResponse, error) {
	var ps events.Problems
	if errors.As(err, &ps) {
		return &ovenv1.LiveEventResponse{Problems: problemsProto(ps)}, nil
	}
	if err != nil {
		return nil, err
	}
	return &ovenv1.LiveEventResponse{Event: eventProto(e, now)}, nil
}

func eventList(list []events.Event, now time.Time) *ovenv1.EventList {
	out := &ovenv1.EventList{Events: make([]*ovenv1.LiveEvent, len(list))}
	for i, e := range list {
		out.Events[i] = eventProto(e, now)
	}
	return out
}

func eventProto(e events.Event, now time.Time) *ovenv1.LiveEvent {
	return &ovenv1.LiveEvent{Id: e.ID, Kind: e.Kind, Title: e.Title, StartsAtMs: millis(e.StartsAt),
		EndsAtMs: millis(e.EndsAt), Value: e.Value, Message: e.Message, Audience: e.Audience,
		ExpectedLoad: e.ExpectedLoad, Status: e.Status(now), CancelledAtMs: millis(e.CancelledAt),
		CreatedBy: e.CreatedBy, UpdatedBy: e.UpdatedBy}
}

func eventFrom(pb *ovenv1.LiveEvent) events.Event {
	return events.Event{Kind: pb.GetKind(), Title: pb.GetTitle(), StartsAt: fromMillis(pb.GetStartsAtMs()),
		EndsAt: fromMillis(pb.GetEndsAtMs()), Value: pb.GetValue(), Message: pb.GetMessage(),
		Audience: pb.GetAudience(), ExpectedLoad: pb.GetExpectedLoad()}
}

// patch applies the fields req sets.
func patch(e *events.Event, req *ovenv1.LiveEventPatch) {
	set(&e.Kind, req.Kind)
	set(&e.Title, req.Title)
	set(&e.Value, req.Value)
	set(&e.Message, req.Message)
	set(&e.Audience, req.Audience)
	set(&e.ExpectedLoad, req.ExpectedLoad)
	if req.StartsAtMs != nil {
		e.StartsAt = fromMillis(*req.StartsAtMs)
	}
	if req.EndsAtMs != nil {
		e.EndsAt = fromMillis(*req.EndsAtMs)
	}
}

// set copies *v to *dst when v is set.
func set[T any](dst, v *T) {
	if v != nil {
		*dst = *v
	}
}

func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}
