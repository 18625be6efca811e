package pushsink

import (
	"fmt"
	"io"
	"net/http"
	"strings"
)

// fcmMaxBody is the request size Google's front end accepts here.
const fcmMaxBody = 1 << 20

// fcmSend is the state of one FCM request while it is processed.
type fcmSend struct {
	r        *http.Request
	d        *Delivery
	project  string
	msg      *fcmMessage
	parseErr *gError // why the body is refused, if it is
}

func (s *Server) handleFCM(w http.ResponseWriter, r *http.Request) {
	d := Delivery{Provider: FCM, Time: s.now()}
	send := &fcmSend{r: r, d: &d}
	readFCMRequest(send)
	if e := s.processFCM(send); e != nil {
		d.Status, d.Reason = e.code, e.reason()
		writeGError(w, e)
	} else {
		d.Status = http.StatusOK
		writeJSON(w, http.StatusOK, map[string]string{"name": d.ID})
	}
	s.record(d)
}

func (s *Server) processFCM(f *fcmSend) *gError {
	steps := []func(*fcmSend) *gError{
		parseFCMPath, s.checkAccessToken, s.checkFCMRate,
		checkFCMMessage, s.checkFCMRegistered,
	}
	for _, step := range steps {
		if e := step(f); e != nil {
			return e
		}
	}
	f.d.ID = s.fcmMessageName(f)
	return nil
}

// parseFCMPath accepts POST /v1/projects/{project}/messages:send.
func parseFCMPath(f *fcmSend) *gError {
	rest, _ := strings.CutPrefix(f.r.URL.Path, "/v1/projects/")
	project, action, ok := strings.Cut(rest, "/")
	if f.r.Method != http.MethodPost || !ok || project == "" || action != "messages:send" {
		return &gError{code: http.StatusNotFound, status: "NOT_FOUND",
			message: fmt.Sprintf("The requested URL %s was not found on this server.", f.r.URL.Path)}
	}
	f.project = project
	f.d.Project = project
	return nil
}

// checkAccessToken requires "Authorization: Bearer <token>": one issued by
// POST /token and unexpired (or any, with Config.FCMAcceptAnyToken); a token
// of a service account whose project is known must match the path's.
func (s *Server) checkAccessToken(f *fcmSend) *gError {
	raw, ok := bearer(f.r.Header.Get("Authorization"))
	if !ok {
		return unauthenticated(msgMissingCredential)
	}
	tok, known := s.tokens.lookup(raw, s.now())
	if !known && !s.cfg.FCMAcceptAnyToken {
		e := unauthenticated(msgInvalidCredential)
		e.challenge += `, error="invalid_token"`
		return e
	}
	if tok.project != "" && tok.project != f.project {
		return &gError{code: http.StatusForbidden, status: "PERMISSION_DENIED",
			message: fmt.Sprintf("Permission 'cloudmessaging.messages.create' denied on resource '//cloudresourcemanager.googleapis.com/projects/%s' (or it may not exist).", f.project)}
	}
	return nil
}

func (s *Server) checkFCMRate(*fcmSend) *gError {
	ok, wait := s.limits.allow(FCM, s.now())
	if ok {
		return nil
	}
	return &gError{code: http.StatusTooManyRequests, status: "RESOURCE_EXHAUSTED",
		message: "Quota exceeded for quota metric 'Send requests' and limit 'Send requests per minute' of service 'fcm.googleapis.com'.",
		fcmCode: "QUOTA_EXCEEDED", retry: retryAfterSeconds(wait)}
}

// readFCMRequest reads and decodes the body up front, so that refused
// requests are recorded with their message and target too; why the body is
// refused is answered in its turn, after authentication.
func readFCMRequest(f *fcmSend) {
	body, err := io.ReadAll(io.LimitReader(f.r.Body, fcmMaxBody+1))
	f.d.Size = len(body)
	switch {
	case err != nil:
		f.parseErr = invalidJSON("", "Invalid JSON payload received. "+err.Error())
		return
	case len(body) > fcmMaxBody:
		f.parseErr = invalidJSON("", fmt.Sprintf("Request payload size exceeds the limit: %d bytes.", fcmMaxBody))
		return
	}
	f.d.Payload = payloadJSON(body)
	req, e := decodeSendRequest(body)
	if e != nil {
		f.parseErr = e
		return
	}
	f.d.Payload, f.d.ValidateOnly = payloadJSON(req.Message), req.ValidateOnly
	f.msg, f.parseErr = decodeMessage(req.Message)
	if f.msg != nil {
		f.d.DeviceToken, f.d.Topic, f.d.Condition = f.msg.target()
	}
}

func checkFCMMessage(f *fcmSend) *gError {
	if f.parseErr != nil {
		return f.parseErr
	}
	return f.msg.validate()
}

func (s *Server) checkFCMRegistered(f *fcmSend) *gError {
	if f.d.DeviceToken == "" {
		return nil
	}
	if _, gone := s.unreg.lookup(tokenKey{FCM, f.d.DeviceToken}); !gone {
		return nil
	}
	return &gError{code: http.StatusNotFound, status: "NOT_FOUND",
		message: msgNotFound, fcmCode: "UNREGISTERED"}
}

// fcmMessageName is the accepted message's resource name; dry runs get
// FCM's fake_message_id.
func (s *Server) fcmMessageName(f *fcmSend) string {
	id := "fake_message_id"
	if !f.d.ValidateOnly {
		id = fcmMessageID(s.now().UnixMilli())
	}
	return "projects/" + f.project + "/messages/" + id
}
