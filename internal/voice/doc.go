// Package voice is a client for Twilio's Voice v2 Client Configurations API
// (/v2/Configurations/Client and its Default sub-resource).
//
// The client is built for a reconciler that may drive thousands of objects
// across many accounts:
//
//   - A Factory hands out one Client per credentials and shares a gate per
//     identity (account and credential), so a burst of objects using one
//     Secret's credentials is throttled as one, and a Secret that only
//     claims another account's SID draws nothing from it. The gate paces
//     requests with a token bucket whose turns a caller can book ahead
//     (Client.Admit) instead of sleeping, caps any one second at the rate,
//     and after a 429 sends nothing until its Retry-After has passed, then
//     one probe at a time.
//   - Every configuration the API answers is checked against the account the
//     credentials claim (ClassAccountMismatch otherwise): with an API key,
//     the account on the wire is the key's, whatever the Secret says.
//   - Every failure is an *Error with a Class that tells the caller what to
//     do: stop and report (Invalid, Conflict, Unauthorized, NotFound), wait
//     (Throttled, with RetryAfter), retry later (Unavailable, Malformed).
//   - Retryable failures are retried inline with capped, jittered
//     exponential backoff, but only while the wait is short
//     (Options.MaxRetryWait); a longer wait is handed back to the caller,
//     whose work queue can wait without holding a worker. A 429 is handed
//     back at once unless Options.RetryThrottled (a command-line caller).
//   - Create (POST) is not idempotent: it is retried only on 429, which
//     Twilio documents as never processed, and on failures that happened
//     before the request was sent. Any other failure after sending is marked
//     Ambiguous, and the caller must look the unique name up
//     (FindByUniqueName) before concluding the create did not happen.
//   - Only what the reference documents is relied on: configurations are
//     addressed by id, a unique name is found by walking the list, fields
//     beyond the reference (dates) are ignored, and where the reference is
//     silent (the largest page, how an unset default reads) every plausible
//     answer is accepted.
//   - Credentials never reach an error, a log line or a String() result,
//     and error messages from the API are scrubbed of URL credentials and
//     of the secrets the request carried before they are kept.
//
// The package has no Kubernetes dependency; internal/voicesim is the
// in-memory simulator its tests run against over real HTTP.
package voice
