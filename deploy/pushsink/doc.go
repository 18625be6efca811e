// Package pushsink is a local sink for push notifications that speaks the
// wire protocols of Apple's APNs (HTTP/2 provider API, token-based auth) and
// of Firebase Cloud Messaging (HTTP v1, with Google's OAuth2 service-account
// token endpoint), so that Oven's push adapters, built on the real SDKs, can
// be tested and run in the dev stack without the internet. Nothing is
// delivered anywhere: every request is answered the way the real service
// would, and recorded.
//
//	srv, err := pushsink.Start(pushsink.Config{})
//	defer srv.Close()
//
//	// APNs with github.com/sideshow/apns2:
//	client := apns2.NewTokenClient(tok)
//	client.Host = srv.APNsHost()
//	client.HTTPClient.Transport.(*http2.Transport).TLSClientConfig = srv.ClientTLSConfig()
//
//	// FCM with firebase.google.com/go/v4:
//	saJSON, err := srv.NewServiceAccount("oven-dev") // token_uri is the sink
//	creds, err := credentials.NewCredentialsFromJSON(credentials.ServiceAccount, saJSON,
//		&credentials.DetectOptions{Scopes: scopes, Client: srv.HTTPClient()})
//	hc, err := httptransport.NewClient(&httptransport.Options{
//		Credentials: creds, BaseRoundTripper: srv.Transport()})
//	app, err := firebase.NewApp(ctx, &firebase.Config{ProjectID: "oven-dev"},
//		option.WithHTTPClient(hc), option.WithEndpoint(srv.FCMEndpoint()))
//
// # Transport
//
// One TLS listener (default 127.0.0.1:0) serves everything, HTTP/2 via ALPN
// with HTTP/1.1 as fallback. Unless Config.Certificate is given, a
// self-signed ECDSA P-256 certificate (its own root; 127.0.0.1, ::1,
// localhost and Config.Hosts) is generated at start; clients trust it
// through CertPEM, CertPool, ClientTLSConfig, Transport or HTTPClient. Plain
// HTTP, mutual TLS (APNs certificate-based auth) and the APNs port 2197 are
// not offered.
//
// # APNs: POST /3/device/{token}
//
// Checks run in this order; the first failure answers with Apple's status
// and JSON {"reason": ...}, and the apns-id header (the request's, or a new
// UUID) is on every answer:
//
//   - 405 MethodNotAllowed unless POST; 404 BadPath for other paths under
//     /3/; 400 MissingDeviceToken for an empty token. A request that is not
//     HTTP/2 gets 505 {"reason": "HTTP2Required"} (the sink's own; APNs only
//     speaks HTTP/2).
//   - 400 DuplicateHeaders when authorization or an apns-* header is repeated.
//   - Provider token, "authorization: bearer <JWT>": 403 MissingProviderToken
//     without one; 403 InvalidProviderToken unless the JWT has header alg
//     ES256 and a kid, claims iss and an integer iat, and an r||s signature;
//     with Config.APNsTeamID the iss must match, and with Config.APNsKeys the
//     kid must name a key whose ES256 signature verifies (otherwise only the
//     structure is checked). 403 ExpiredProviderToken when iat is over an
//     hour old; an iat over 5 minutes ahead is InvalidProviderToken.
//   - 429 TooManyRequests, with Retry-After, over the APNs rate limit.
//   - Headers: 400 BadMessageId (apns-id not a canonical UUID), MissingTopic
//     (apns-topic is required with token auth), InvalidPushType (apns-push-type
//     not one of alert, background, location, voip, complication,
//     fileprovider, mdm, liveactivity, pushtotalk, widgets, controls; it may
//     be absent), BadPriority (apns-priority not 10, 5 or 1),
//     BadExpirationDate (apns-expiration not a non-negative integer),
//     BadCollapseId (apns-collapse-id over 64 bytes).
//   - 400 BadDeviceToken unless the token is 32 to 100 bytes of hex.
//   - Payload: 400 PayloadEmpty; 413 PayloadTooLarge over 4096 bytes (5120
//     for voip); 400 BadPayload (the sink's own; Apple documents no reason)
//     unless it is a JSON object with an "aps" dictionary (not required for
//     mdm).
//   - 410 Unregistered with "timestamp" (ms, when SetUnregistered was
//     called) for a token made unregistered.
//
// Success is 200 with apns-id and apns-unique-id (as the development
// environment sends) and no body. Not implemented: certificate-based auth,
// BadTopic / TopicDisallowed / DeviceTokenNotForTopic (topics are not tied
// to keys or tokens), topic suffix rules per push type, ExpiredToken,
// TooManyProviderTokenUpdates, per-device-token throttling, 5xx answers,
// GOAWAY with a reason, broadcast channels (/4/broadcast) and Live Activity
// channel management.
//
// # FCM HTTP v1: POST /v1/projects/{project}/messages:send
//
// Errors use Google's format {"error": {"code", "message", "status",
// "details"}} with a google.firebase.fcm.v1.FcmError detail carrying the FCM
// error code where FCM sends one, so the Admin SDK classifies them
// (messaging.IsUnregistered, IsInvalidArgument, IsQuotaExceeded...). In
// order:
//
//   - 404 NOT_FOUND for other paths and methods under /v1/.
//   - 401 UNAUTHENTICATED (with WWW-Authenticate) without "Authorization:
//     Bearer", or with a token the sink's POST /token did not issue or that
//     has expired (any token passes with Config.FCMAcceptAnyToken). A token
//     of a service account made by NewServiceAccount is only good for its
//     project: 403 PERMISSION_DENIED otherwise.
//   - 429 RESOURCE_EXHAUSTED / QUOTA_EXCEEDED, with Retry-After, over the FCM
//     rate limit.
//   - 400 INVALID_ARGUMENT with a google.rpc.BadRequest detail when the body
//     does not map onto the API's JSON: not JSON, over 1 MiB, an unknown
//     field name, a value of the wrong type. Field names may be snake_case
//     or lowerCamelCase, as Google's JSON mapping allows. Known names:
//     validate_only and message; in the message name, data (string values),
//     notification {title, body, image}, android {collapse_key, priority,
//     ttl, restricted_package_name, data, notification, fcm_options,
//     direct_boot_ok, bandwidth_constrained_ok, restricted_satellite_ok},
//     webpush {headers, data, notification, fcm_options}, apns {headers,
//     payload, fcm_options, live_activity_token}, fcm_options
//     {analytics_label}, token, topic, condition and fid. Objects below those
//     (android.notification, apns.payload, ...) are not checked by name.
//   - 400 INVALID_ARGUMENT with the FcmError INVALID_ARGUMENT detail: not
//     exactly one of token, topic, condition, fid; a token not shaped like an
//     FCM registration token ("[<instance id>:]APA91b<...>", message "The
//     registration token is not a valid FCM registration token"); a topic
//     outside [a-zA-Z0-9-_.~%] (no "/topics/" prefix); a reserved data key
//     (from, notification, message_type, google.*, gcm.*); android.priority
//     other than normal/high; android.ttl not a "<seconds>[.<frac>]s"
//     duration; apns.payload without an "aps" key.
//   - 404 NOT_FOUND / UNREGISTERED for a token (or fid) made unregistered.
//
// Success is 200 {"name": "projects/{project}/messages/{id}"}; with
// validate_only the id is "fake_message_id", as FCM answers dry runs. Not
// implemented: the 4096-byte payload limit, checks inside android/webpush
// notifications and apns.payload beyond "aps", condition syntax,
// SENDER_ID_MISMATCH, THIRD_PARTY_AUTH_ERROR, UNAVAILABLE / INTERNAL, the
// legacy and batch (/batch) APIs, and topic management (Instance ID API).
//
// # OAuth2 token endpoint: POST /token
//
// The JWT-bearer grant (RFC 7523) of Google's service-account credentials:
// form grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer and
// assertion=<JWT>. The assertion needs header alg RS256 and claims iss, aud
// equal to the URL it was posted to, a non-empty scope, and iat/exp at most
// an hour apart around now (5 minutes skew). Its signature is verified for
// accounts made by NewServiceAccount or listed in Config.ServiceAccounts;
// others are checked for structure only. Success is {"access_token",
// "token_type": "Bearer", "expires_in": 3600}; errors are OAuth2 JSON
// {"error", "error_description"} with unsupported_grant_type,
// invalid_request, invalid_grant or invalid_scope. Not implemented: other
// grants, ID tokens, self-signed JWTs sent to FCM directly as bearer tokens
// (unless FCMAcceptAnyToken), scope checking.
//
// # Recording and control
//
// Every push request, accepted or refused, is recorded as a Delivery
// (provider, device token, topic / condition / project, payload, apns-*
// headers, status, reason, time); Deliveries returns the last
// Config.MaxDeliveries. SetUnregistered / ClearUnregistered steer tokens,
// SetRateLimit the per-provider fixed-window limit. The same is served as
// JSON for other processes (these paths are the sink's own):
//
//	GET    /sink/deliveries[?provider=apns|fcm&token=...&since=<seq>]
//	DELETE /sink/deliveries
//	POST   /sink/unregistered   {"provider": "apns"|"fcm", "token": "..."}
//	DELETE /sink/unregistered   {"provider": "apns"|"fcm", "token": "..."}
package pushsink
