package controllers

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
	"github.com/twilio-operator/voice-operator/internal/voice"
)

// TestErrorMapping is the one table of how a failure becomes a condition
// reason, a class, and what controller-runtime is told: every remote error
// class through remoteError, and the step errors the controllers build.
func TestErrorMapping(t *testing.T) {
	type outcome struct {
		Reason   string
		Class    errorClass
		Requeue  time.Duration // RequeueAfter of the result
		Returned bool          // the error goes back to the workqueue: its backoff, and the error log
		User     bool          // a person must fix it: logged once at info, never as an error
	}
	remote := func(class voice.Class, retryAfter time.Duration) error {
		return remoteError("doing it", &voice.Error{Op: "op", Class: class, RetryAfter: retryAfter})
	}
	cases := map[string]struct {
		err  error
		want outcome
	}{
		"success":                    {err: nil, want: outcome{Requeue: time.Minute}},
		"400: the spec is wrong":     {err: remote(voice.ClassInvalid, 0), want: outcome{Reason: voicev1alpha1.ReasonInvalidSpec, Class: classStalled, Requeue: 3 * time.Second, User: true}},
		"409: the name is taken":     {err: remote(voice.ClassConflict, 0), want: outcome{Reason: voicev1alpha1.ReasonAlreadyExists, Class: classStalled, Requeue: 3 * time.Second, User: true}},
		"401: credentials refused":   {err: remote(voice.ClassUnauthorized, 0), want: outcome{Reason: voicev1alpha1.ReasonCredentialsRejected, Class: classTransient, Requeue: 3 * time.Second, User: true}},
		"403: no access to the beta": {err: remote(voice.ClassForbidden, 0), want: outcome{Reason: voicev1alpha1.ReasonAPIAccessDenied, Class: classTransient, Requeue: 3 * time.Second, User: true}},
		"another account answered":   {err: remote(voice.ClassAccountMismatch, 0), want: outcome{Reason: voicev1alpha1.ReasonAccountMismatch, Class: classStalled, Requeue: 3 * time.Second, User: true}},
		"429 with Retry-After":       {err: remote(voice.ClassThrottled, 7*time.Second), want: outcome{Reason: voicev1alpha1.ReasonThrottled, Class: classThrottled, Requeue: 7 * time.Second}},
		"429 without Retry-After":    {err: remote(voice.ClassThrottled, 0), want: outcome{Reason: voicev1alpha1.ReasonThrottled, Class: classThrottled, Requeue: 5 * time.Second}},
		"not sent: the account's gate is closed": {err: remoteError("doing it", &voice.Error{Op: "op", Class: voice.ClassThrottled, RetryAfter: 2 * time.Second, NotSent: true}),
			want: outcome{Reason: voicev1alpha1.ReasonThrottled, Class: classDeferred, Requeue: 2 * time.Second}},
		"5xx or network":               {err: remote(voice.ClassUnavailable, 0), want: outcome{Reason: voicev1alpha1.ReasonRemoteUnavailable, Class: classTransient, Returned: true}},
		"unreadable answer":            {err: remote(voice.ClassMalformed, 0), want: outcome{Reason: voicev1alpha1.ReasonRemoteUnavailable, Class: classTransient, Returned: true}},
		"404 where no 404 is expected": {err: remote(voice.ClassNotFound, 0), want: outcome{Reason: voicev1alpha1.ReasonRemoteUnavailable, Class: classTransient, Returned: true}},
		"waiting for a Secret":         {err: waitingFor(voicev1alpha1.ReasonCredentialsNotFound, errors.New("no Secret")), want: outcome{Reason: voicev1alpha1.ReasonCredentialsNotFound, Class: classWaiting, User: true}},
		"waiting with a delay": {err: &stepError{reason: voicev1alpha1.ReasonNotFound, class: classWaiting, user: true, after: 5 * time.Second, err: errors.New("not yet")},
			want: outcome{Reason: voicev1alpha1.ReasonNotFound, Class: classWaiting, Requeue: 5 * time.Second, User: true}},
		"waiting on a person, no delay given: the object's capped backoff, never a fixed loop": {err: &stepError{reason: voicev1alpha1.ReasonIsDefault, class: classWaiting, user: true, backoff: true, err: errors.New("default")},
			want: outcome{Reason: voicev1alpha1.ReasonIsDefault, Class: classWaiting, Requeue: 3 * time.Second, User: true}},
		"a step error wrapped again, stalled: looked at again with the object's backoff": {err: fmt.Errorf("context: %w", stalled(voicev1alpha1.ReasonConflict, errors.New("two owners"))),
			want: outcome{Reason: voicev1alpha1.ReasonConflict, Class: classStalled, Requeue: 3 * time.Second, User: true}},
		"an error of our own apiserver writes": {err: transient(voicev1alpha1.ReasonProgressing, errors.New("conflict")),
			want: outcome{Reason: voicev1alpha1.ReasonProgressing, Class: classTransient, Returned: true}},
		"anything unclassified": {err: errors.New("boom"), want: outcome{Reason: voicev1alpha1.ReasonRemoteUnavailable, Class: classTransient, Returned: true}},
	}
	for name, c := range cases {
		res, err := result(c.err, time.Minute, 3*time.Second)
		got := outcome{Requeue: res.RequeueAfter, Returned: err != nil}
		if c.err != nil {
			step := asStep(c.err)
			got.Reason, got.Class, got.User = step.reason, step.class, isUserError(c.err)
		}
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
		state := stateFor(c.err, "fine")
		if wantStalled := c.want.Class == classStalled; state.stalled != wantStalled || state.reconciling != (c.err != nil && !wantStalled) {
			t.Errorf("%s: conditions stalled=%v reconciling=%v", name, state.stalled, state.reconciling)
		}
	}
}
