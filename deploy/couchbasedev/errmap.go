package couchbasedev

import (
	"encoding/json"
	"fmt"
)

// errMapEntry is one entry of a version 1 KV error map (kv_engine
// docs/ErrorMap.md). No entry carries retry attributes: every code listed is
// one the SDK already classifies itself.
type errMapEntry struct {
	Name  string   `json:"name"`
	Desc  string   `json:"desc"`
	Attrs []string `json:"attrs"`
}

var errMapEntries = map[uint16]errMapEntry{
	statusSuccess:           {"SUCCESS", "Success", []string{"success"}},
	statusKeyNotFound:       {"KEY_ENOENT", "Not Found", []string{"item-only"}},
	statusKeyExists:         {"KEY_EEXISTS", "key already exists, or CAS mismatch", []string{"item-only"}},
	statusTooBig:            {"E2BIG", "Value is too big", []string{"item-only", "invalid-input"}},
	statusInvalidArgs:       {"EINVAL", "Invalid packet", []string{"internal", "invalid-input"}},
	statusNotStored:         {"NOT_STORED", "Not Stored", []string{"item-only"}},
	statusBadDelta:          {"DELTA_BADVAL", "Non-numeric server-side value for incr or decr", []string{"item-only", "invalid-input"}},
	statusNoBucket:          {"NO_BUCKET", "Not connected to a bucket", []string{"conn-state-invalidated"}},
	statusLocked:            {"LOCKED", "Requested resource is locked", []string{"item-locked", "item-only"}},
	statusNotLocked:         {"NOT_LOCKED", "Requested resource is not locked", []string{"item-only"}},
	statusAuthError:         {"AUTH_ERROR", "Auth failure", []string{"auth", "conn-state-invalidated"}},
	statusAuthContinue:      {"AUTH_CONTINUE", "Continue authentication", []string{"auth", "special-handling"}},
	statusAccessError:       {"EACCESS", "No access", []string{"support", "conn-state-invalidated"}},
	statusUnknownCommand:    {"UNKNOWN_COMMAND", "Unknown command", []string{"support"}},
	statusNotSupported:      {"NOT_SUPPORTED", "Operation not supported", []string{"support"}},
	statusInternalError:     {"EINTERNAL", "Internal error", []string{"internal"}},
	statusTmpFail:           {"ETMPFAIL", "Temporary failure", []string{"temp"}},
	statusUnknownCollection: {"UNKNOWN_COLLECTION", "Unknown Collection", []string{"item-only", "fetch-config"}},
	statusUnknownScope:      {"UNKNOWN_SCOPE", "Unknown Scope", []string{"item-only", "fetch-config"}},
	statusDurabilityInvalid: {"DURABILITY_INVALID_LEVEL", "Invalid durability level", []string{"item-only", "invalid-input"}},
	statusPathNotFound:      {"SUBDOC_PATH_ENOENT", "Subdoc: Path not does not exist", []string{"subdoc", "item-only"}},
	statusPathMismatch:      {"SUBDOC_PATH_MISMATCH", "Subdoc: Path mismatch", []string{"subdoc", "item-only"}},
	statusPathInvalid:       {"SUBDOC_PATH_EINVAL", "Subdoc: Invalid path", []string{"subdoc", "invalid-input"}},
	statusPathTooBig:        {"SUBDOC_PATH_E2BIG", "Subdoc: Path too large", []string{"subdoc", "invalid-input"}},
	statusDocTooDeep:        {"SUBDOC_DOC_E2DEEP", "Subdoc: Document too deep", []string{"subdoc", "item-only"}},
	statusCantInsert:        {"SUBDOC_VALUE_CANTINSERT", "Subdoc: Cannot insert specified value", []string{"subdoc", "invalid-input"}},
	statusDocNotJSON:        {"SUBDOC_DOC_NOT_JSON", "Subdoc: Existing document not JSON", []string{"subdoc", "item-only"}},
	statusNumRange:          {"SUBDOC_NUM_ERANGE", "Subdoc: Existing number outside valid arithmetic range", []string{"subdoc", "item-only"}},
	statusDeltaInvalid:      {"SUBDOC_DELTA_ERANGE", "Subdoc: Delta is 0, not a number, or outside the valid range", []string{"subdoc", "invalid-input"}},
	statusPathExists:        {"SUBDOC_PATH_EEXISTS", "Subdoc: Document path already exists", []string{"subdoc", "item-only"}},
	statusValueTooDeep:      {"SUBDOC_VALUE_ETOODEEP", "Subdoc: Inserting value would make document too deep", []string{"subdoc", "invalid-input"}},
	statusInvalidCombo:      {"SUBDOC_INVALID_COMBO", "Subdoc: Invalid combination for multi-path command", []string{"subdoc", "invalid-input"}},
	statusMultiPathFailure:  {"SUBDOC_MULTI_PATH_FAILURE", "Subdoc: One or more paths in a multi-path command failed", []string{"subdoc"}},
	statusUnknownVattr:      {"SUBDOC_XATTR_UNKNOWN_VATTR", "Subdoc: The server doesn't know about the specified virtual attribute", []string{"subdoc", "invalid-input"}},
	statusCannotModifyVattr: {"SUBDOC_XATTR_CANT_MODIFY_VATTR", "Subdoc: Can't modify virtual attributes", []string{"subdoc", "invalid-input"}},
}

// errorMapJSON renders the error map served by GET_ERROR_MAP.
func errorMapJSON() []byte {
	errs := make(map[string]errMapEntry, len(errMapEntries))
	for code, e := range errMapEntries {
		errs[fmt.Sprintf("%x", code)] = e
	}
	out, _ := json.Marshal(map[string]any{"version": 1, "revision": 1, "errors": errs})
	return out
}
