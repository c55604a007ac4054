// Package voicesim is an in-memory simulator of Twilio's Voice v2 Client
// Configurations API, served as an http.Handler.
//
// Tests, the demo and the benchmarks run against it instead of Twilio. A
// test double must not know more than the documentation, so New(Options{})
// answers exactly as Twilio's reference page for the resource shows and no
// more: the five documented fields (no dates), ids only in the instance
// path, and the documented list shape. Where the reference is silent, the
// zero Options make the plainest choice, and every other choice, and every
// behaviour beyond the reference, is a named field of Options (see
// Extended), so a test relying on one says so:
//
//   - A duplicate unique_name answers 400 (Options.DuplicateStatus: 409).
//   - A pageSize above 50 answers 400 (Options.MaxPageSize, ClampPageSize);
//     below 1 or not a number is a 400 too.
//   - Deleting the default configuration clears the default
//     (Options.DeleteDefault: refuse with a 400).
//   - Reading the default when none is set answers 404 (Options.NoDefault:
//     200 with an empty body, or with null).
//   - Setting the default to an unknown id answers 404 (code 20404).
//   - Unsetting the default when none is set answers 204: unsetting is
//     idempotent.
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
