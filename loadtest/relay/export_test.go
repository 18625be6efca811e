package relay

// EmptyResponse exposes emptyResponse to the tests.
var EmptyResponse = emptyResponse
