package gms

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/grpcerr"
	"github.com/ovengames/oven/presentation/apijson"
	"github.com/ovengames/oven/proto/ovenv1"
)

// eventJSON is a calendar entry as the GMS shows it (API.md, Live operations).
type eventJSON struct {
	apijson.Event
	Message      string  `json:"message"`
	Audience     string  `json:"audience"`
	ExpectedLoad float64 `json:"expected_load"`
	Status       string  `json:"status"`
	CancelledAt  *string `json:"cancelled_at"`
	CreatedBy    string  `json:"created_by"`
	UpdatedBy    string  `json:"updated_by"`
}

func renderEvent(e *ovenv1.LiveEvent) eventJSON {
	return eventJSON{Event: apijson.RenderEvent(e), Message: e.GetMessage(), Audience: e.GetAudience(),
		ExpectedLoad: e.GetExpectedLoad(), Status: e.GetStatus(), CancelledAt: apijson.OptionalTime(e.GetCancelledAtMs()),
		CreatedBy: e.GetCreatedBy(), UpdatedBy: e.GetUpdatedBy()}
}

// eventRequest is the body of POST /gms/api/events and PATCH /gms/api/events/{id}: on a
// PATCH only the fields present change.
type eventRequest struct {
	Kind         *string  `json:"kind"`
	Title        *string  `json:"title"`
	StartsAt     *string  `json:"starts_at"`
	EndsAt       *string  `json:"ends_at"`
	Value        *int64   `json:"value"`
	Message      *string  `json:"message"`
	Audience     *string  `json:"audience"`
	ExpectedLoad *float64 `json:"expected_load"`
}

// times parses starts_at and ends_at (RFC 3339) into Unix milliseconds.
func (req eventRequest) times() (starts, ends *int64, err error) {
	parse := func(field string, v *string) (*int64, error) {
		if v == nil {
			return nil, nil
		}
		t, err := time.Parse(time.RFC3339, *v)
		if err != nil || t.Year() < 2000 || t.Year() > 9999 {
			return nil, oven.Errorf(oven.EInvalid, "%s must be an RFC 3339 time", field)
		}
		ms := t.UnixMilli()
		return &ms, nil
	}
	if starts, err = parse("starts_at", req.StartsAt); err != nil {
		return nil, nil, err
	}
	ends, err = parse("ends_at", req.EndsAt)
	return starts, ends, err
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// events lists the calendar, newest start first (GET /gms/api/events, viewer).
func (s *server) events(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := callCtx(r)
	defer cancel()
	resp, err := s.admin.ListLiveEvents(ctx, &ovenv1.AdminRequest{Auth: auth(r)})
	if err != nil {
		return grpcerr.FromCall("ListLiveEvents", err)
	}
	out := struct {
		Events []eventJSON `json:"events"`
	}{Events: make([]eventJSON, 0, len(resp.GetEvents()))}
	for _, e := range resp.GetEvents() {
		out.Events = append(out.Events, renderEvent(e))
	}
	apijson.Write(w, http.StatusOK, out)
	return nil
}

// createEvent schedules an event (POST /gms/api/events, publisher): 201 {"id"}, or 400
// listing every problem.
func (s *server) createEvent(w http.ResponseWriter, r *http.Request) error {
	var req eventRequest
	if err := apijson.Decode(r, &req); err != nil {
		return err
	}
	starts, ends, err := req.times()
	if err != nil {
		return err
	}
	ctx, cancel := callCtx(r)
	defer cancel()
	resp, err := s.admin.CreateLiveEvent(ctx, &ovenv1.LiveEventRequest{Auth: auth(r), Event: &ovenv1.LiveEvent{
		Kind: deref(req.Kind), Title: deref(req.Title), StartsAtMs: deref(starts), EndsAtMs: deref(ends),
		Value: deref(req.Value), Message: deref(req.Message), Audience: deref(req.Audience), ExpectedLoad: deref(req.ExpectedLoad)}})
	if err != nil {
		return grpcerr.FromCall("CreateLiveEvent", err)
	}
	if len(resp.GetProblems()) > 0 {
		return &problemsError{problems: problems(resp.GetProblems())}
	}
	apijson.Write(w, http.StatusCreated, struct {
		ID string `json:"id"`
	}{resp.GetEvent().GetId()})
	return nil
}

// updateEvent changes the fields present of an event that has not ended (PATCH
// /gms/api/events/{id}, publisher): 200 with the event, or 400 listing every problem.
func (s *server) updateEvent(w http.ResponseWriter, r *http.Request) error {
	var req eventRequest
	if err := apijson.Decode(r, &req); err != nil {
		return err
	}
	starts, ends, err := req.times()
	if err != nil {
		return err
	}
	ctx, cancel := callCtx(r)
	defer cancel()
	resp, err := s.admin.UpdateLiveEvent(ctx, &ovenv1.LiveEventPatch{Auth: auth(r), Id: chi.URLParam(r, "id"),
		Kind: req.Kind, Title: req.Title, StartsAtMs: starts, EndsAtMs: ends, Value: req.Value,
		Message: req.Message, Audience: req.Audience, ExpectedLoad: req.ExpectedLoad})
	return s.writeEvent(w, "UpdateLiveEvent", resp, err)
}

// cancelEvent ends an event now (POST /gms/api/events/{id}/cancel, publisher).
func (s *server) cancelEvent(w http.ResponseWriter, r *http.Request) error {
	if err := apijson.DecodeEmpty(r); err != nil {
		return err
	}
	ctx, cancel := callCtx(r)
	defer cancel()
	resp, err := s.admin.CancelLiveEvent(ctx, &ovenv1.LiveEventIdRequest{Auth: auth(r), Id: chi.URLParam(r, "id")})
	return s.writeEvent(w, "CancelLiveEvent", resp, err)
}

func (s *server) writeEvent(w http.ResponseWriter, method string, resp *ovenv1.LiveEventResponse, err error) error {
	if err != nil {
		return grpcerr.FromCall(method, err)
	}
	if len(resp.GetProblems()) > 0 {
		return &problemsError{problems: problems(resp.GetProblems())}
	}
	apijson.Write(w, http.StatusOK, renderEvent(resp.GetEvent()))
	return nil
}
