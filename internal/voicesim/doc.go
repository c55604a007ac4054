// Package voicesim is an in-memory simulator of Twilio's Voice v2 Client
// Configurations API, served as an http.Handler.
//
// Tests, the demo and the benchmarks run against it instead of Twilio, so it
// follows the reference (shared/reference/twilio-voice-v2-client-configurations.md)
// as closely as the reference allows, and documents every choice the
// reference leaves open:
//
//   - A duplicate unique_name answers 409 with code 20409 (the reference does
//     not say which status Twilio uses; clients must not rely on it).
//   - Setting the default to an unknown id answers 404 (code 20404).
//   - Unsetting the default when none is set answers 204: unsetting is
//     idempotent.
//   - A pageSize above 1000 is clamped to 1000; a pageSize below 1 or not a
//     number is a 400.
//   - GET, PUT and DELETE accept either an id or a unique name in the path,
//     as Twilio's public OpenAPI description ({IdOrUniqueName}) suggests. A
//     configuration whose unique name is "Default" can therefore only be
//     reached by id, because that path is the default-configuration route.
//   - A callnotification url whose host contains "_" is refused with code
//     13806, as Twilio refuses such webhook hosts.
//
// The simulator never imports the client it is used to test
// (internal/voice), so a bug in the client cannot hide behind a matching bug
// here.
//
// Besides the API it offers fault injection (Faults), call counters, a view
// of the remote state, out-of-band changes "as a person in the Console would
// make them", and an admin HTTP surface under /_sim/ so that other processes
// (the demo, the e2e test, the benchmarks) can do the same. The admin surface
// has no authentication and answers only to loopback clients; the command in
// hack/voicesim refuses to listen anywhere but loopback.
package voicesim
