// Package voice is a client for Twilio's Voice v2 Client Configurations API
// (/v2/Configurations/Client and its Default sub-resource).
//
// The client is built for a reconciler that may drive thousands of objects
// across many accounts:
//
//   - A Factory hands out one Client per credentials and shares a token-bucket
//     rate limiter per account SID, so a burst of objects in one account is
//     throttled as one.
//   - Every failure is an *Error with a Class that tells the caller what to
//     do: stop and report (Invalid, Conflict, Unauthorized, NotFound), wait
//     (Throttled, with RetryAfter), retry later (Unavailable, Malformed).
//   - Retryable failures are retried inline with capped, jittered
//     exponential backoff, honouring Retry-After, but only while the wait is
//     short (Options.MaxRetryWait); a longer wait is handed back to the
//     caller, whose work queue can wait without holding a worker.
//   - Create (POST) is not idempotent: it is retried only on 429, which
//     Twilio documents as never processed, and on failures that happened
//     before the request was sent. Any other failure after sending is marked
//     Ambiguous, and the caller must look the unique name up
//     (FindByUniqueName) before concluding the create did not happen.
//   - Credentials never reach an error, a log line or a String() result.
//
// The package has no Kubernetes dependency; internal/voicesim is the
// in-memory simulator its tests run against over real HTTP.
package voice
