package pushsink

import "net/http"

// Detail types of Google's error model (google.rpc.Status).
const (
	fcmErrorType   = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
	badRequestType = "type.googleapis.com/google.rpc.BadRequest"
)

// Messages Google's front end answers, verbatim where known.
const (
	msgMissingCredential = "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
	msgInvalidCredential = "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
	msgInvalidArgument   = "Request contains an invalid argument."
	msgInvalidToken      = "The registration token is not a valid FCM registration token"
	msgNotFound          = "Requested entity was not found."
)

// gError is a refusal in Google's JSON error format:
// {"error": {"code", "message", "status", "details"}}.
type gError struct {
	code       int
	status     string // canonical code, e.g. "INVALID_ARGUMENT"
	message    string
	fcmCode    string // FcmError errorCode detail, if any
	violations []fieldViolation
	retry      string // Retry-After seconds
	challenge  string // WWW-Authenticate
}

type fieldViolation struct {
	Field       string `json:"field,omitempty"`
	Description string `json:"description"`
}

type gErrorBody struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Status  string `json:"status"`
		Details []any  `json:"details,omitempty"`
	} `json:"error"`
}

type fcmErrorDetail struct {
	Type      string `json:"@type"`
	ErrorCode string `json:"errorCode"`
}

type badRequestDetail struct {
	Type            string           `json:"@type"`
	FieldViolations []fieldViolation `json:"fieldViolations"`
}

// reason is what a Delivery records for the refusal.
func (e *gError) reason() string {
	if e.fcmCode != "" {
		return e.fcmCode
	}
	return e.status
}

func (e *gError) body() gErrorBody {
	var b gErrorBody
	b.Error.Code, b.Error.Message, b.Error.Status = e.code, e.message, e.status
	if e.fcmCode != "" {
		b.Error.Details = append(b.Error.Details, fcmErrorDetail{fcmErrorType, e.fcmCode})
	}
	if len(e.violations) > 0 {
		b.Error.Details = append(b.Error.Details, badRequestDetail{badRequestType, e.violations})
	}
	return b
}

func writeGError(w http.ResponseWriter, e *gError) {
	if e.retry != "" {
		w.Header().Set("Retry-After", e.retry)
	}
	if e.challenge != "" {
		w.Header().Set("WWW-Authenticate", e.challenge)
	}
	writeJSON(w, e.code, e.body())
}

func unauthenticated(msg string) *gError {
	return &gError{
		code: http.StatusUnauthorized, status: "UNAUTHENTICATED", message: msg,
		challenge: `Bearer realm="https://accounts.google.com/"`,
	}
}

// invalidArgument is a message FCM refuses: INVALID_ARGUMENT with the
// FcmError detail, and a field violation when field is set.
func invalidArgument(field, description string) *gError {
	e := &gError{
		code: http.StatusBadRequest, status: "INVALID_ARGUMENT",
		message: msgInvalidArgument, fcmCode: "INVALID_ARGUMENT",
	}
	if field != "" {
		e.violations = []fieldViolation{{field, description}}
	}
	return e
}

// invalidJSON is a request body Google's JSON mapping refuses:
// INVALID_ARGUMENT with a google.rpc.BadRequest detail only.
func invalidJSON(field, description string) *gError {
	return &gError{
		code: http.StatusBadRequest, status: "INVALID_ARGUMENT",
		message:    description,
		violations: []fieldViolation{{field, description}},
	}
}
