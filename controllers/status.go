package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
	"github.com/twilio-operator/voice-operator/internal/voice"
)

// errorClass says how a reconciler reacts to a failed step.
type errorClass int

const (
	// classTransient: retry with the workqueue's backoff (the error is
	// returned to controller-runtime). Network trouble, 5xx, 401/403.
	classTransient errorClass = iota
	// classThrottled: retry after a known delay (Retry-After), nil error.
	classThrottled
	// classWaiting: nothing to retry until something we watch changes (the
	// Secret appears, the referenced object becomes Ready), or, when nothing
	// we watch can tell, until a set delay has passed.
	classWaiting
	// classStalled: a person must change something (spec, annotation,
	// Secret). Stalled=True, the generation counts as handled, no requeue.
	classStalled
	// classDeferred: the account's rate limit or a 429 it answered says
	// not yet, and nothing was sent: come back after the delay. Nothing
	// is written (no status, no Event): waiting one's turn is neither news
	// nor a failure.
	classDeferred
)

// stepError is a failed reconcile step: the condition reason a person sees,
// how to react, and the cause. Its message never holds a secret: errors from
// internal/voice are built without credentials, and Secret values are never
// formatted into one.
type stepError struct {
	reason string
	class  errorClass
	after  time.Duration // classThrottled; classWaiting when no watch will fire
	// user marks a failure only a person can fix (the spec, the Secret, the
	// account): it is reported in status and an Event and logged once at
	// info, never as an error of the operator.
	user bool
	// progress marks a wait that is part of normal convergence (an object
	// that others wait for is being created): its Event is Normal, not a
	// Warning.
	progress bool
	// backoff marks a wait on something no watch can see (the account's
	// default, in Twilio): it is looked at again with the object's capped
	// backoff.
	backoff bool
	// routine marks a deferred periodic read of an object in sync: it
	// yields to objects with work to do, and tells nothing however long it
	// waits (status was true when written, and a resync will say more).
	routine bool
	err     error
}

func (e *stepError) Error() string { return e.err.Error() }
func (e *stepError) Unwrap() error { return e.err }

func transient(reason string, err error) error {
	return &stepError{reason: reason, class: classTransient, err: err}
}
func waitingFor(reason string, err error) error {
	return &stepError{reason: reason, class: classWaiting, user: true, err: err}
}
func progressing(reason string, err error) error {
	return &stepError{reason: reason, class: classWaiting, progress: true, err: err}
}
func stalled(reason string, err error) error {
	return &stepError{reason: reason, class: classStalled, user: true, err: err}
}

// deferred is the step error of a call the account's gate did not let
// out, or of a turn booked for later (after), with why.
func deferred(after time.Duration, err error) error {
	return &stepError{reason: voicev1alpha1.ReasonThrottled, class: classDeferred, after: max(after, minDefer), err: err}
}

// minDefer is the shortest requeue of a deferred reconcile.
const minDefer = 10 * time.Millisecond

// isDeferred reports whether err is a deferred reconcile.
func isDeferred(err error) bool {
	var step *stepError
	return errors.As(err, &step) && step.class == classDeferred
}

// admit asks the account's gate, before a reconcile commits to a write
// that ends in a request, whether the request may go out now; if not, the
// reconcile is deferred to its booked turn.
func admit(api VoiceAPI, obj client.Object, doing string) error {
	wait, why := api.Admit(string(obj.GetUID()))
	if wait == 0 {
		return nil
	}
	return deferred(wait, fmt.Errorf("%s: %s", doing, why))
}

// remoteError classifies an error from the Voice API, adding what was being
// done. It is the one place where remote error classes become reasons.
func remoteError(doing string, err error) error {
	if err == nil {
		return nil
	}
	var step *stepError
	if errors.As(err, &step) {
		return err
	}
	if voice.IsNotSent(err) {
		return deferred(voice.RetryAfterOf(err), fmt.Errorf("%s: %w", doing, err))
	}
	err = fmt.Errorf("%s: %w", doing, err)
	switch voice.ClassOf(err) {
	case voice.ClassInvalid:
		return stalled(voicev1alpha1.ReasonInvalidSpec, err)
	case voice.ClassConflict:
		return stalled(voicev1alpha1.ReasonAlreadyExists, err)
	case voice.ClassUnauthorized:
		// Retried, in case the Secret or the account changes, but the
		// person who owns the Secret is the one to act.
		return &stepError{reason: voicev1alpha1.ReasonCredentialsRejected, class: classTransient, user: true, err: err}
	case voice.ClassForbidden:
		// Retried too: access to a beta is granted by Twilio, outside any
		// object the operator watches.
		return &stepError{reason: voicev1alpha1.ReasonAPIAccessDenied, class: classTransient, user: true, err: fmt.Errorf(
			"%w; the credentials were accepted, but they may not use Voice v2 Client Configurations, a Private Beta API: ask Twilio to enable it for the account, or use an API key allowed to call the Voice API",
			err)}
	case voice.ClassAccountMismatch:
		return stalled(voicev1alpha1.ReasonAccountMismatch, fmt.Errorf(
			"%w; the credentials belong to another account than the Secret's %s says: fix the Secret so that both are of the same account",
			err, voicev1alpha1.SecretKeyAccountSID))
	case voice.ClassThrottled:
		after := voice.RetryAfterOf(err)
		if after <= 0 {
			after = 5 * time.Second
		}
		return &stepError{reason: voicev1alpha1.ReasonThrottled, class: classThrottled, after: after, err: err}
	default:
		return transient(voicev1alpha1.ReasonRemoteUnavailable, err)
	}
}

// asStep returns err as a stepError; anything unclassified is transient.
func asStep(err error) *stepError {
	var step *stepError
	if errors.As(err, &step) {
		return step
	}
	return &stepError{reason: voicev1alpha1.ReasonRemoteUnavailable, class: classTransient, err: err}
}

// result turns the outcome of a reconcile into what controller-runtime needs:
// success requeues for the next resync; a stalled one, and a waiting one on
// something no watch can see (IsDefault), is looked at again after
// retry, the object's own capped backoff (1 s, doubling, at most 5
// minutes), besides the watches that wake it: a stall is a fact about the
// world, and must end when the fact does, even one no watch can see (a
// name freed in Twilio). A throttled one waits; a waiting one relies on a
// watch or its delay; a transient failure a person must fix (rejected
// credentials) is retried after retry too; any other is returned, for the
// workqueue's backoff and the error log. Only that last kind is an error
// of the operator.
func result(err error, resync, retry time.Duration) (ctrl.Result, error) {
	if err == nil {
		return ctrl.Result{RequeueAfter: resync}, nil
	}
	step := asStep(err)
	switch {
	case step.class == classStalled, step.backoff:
		return ctrl.Result{RequeueAfter: retry}, nil
	case step.class == classThrottled, step.class == classWaiting, step.class == classDeferred:
		return ctrl.Result{RequeueAfter: step.after}, nil
	case step.user:
		return ctrl.Result{RequeueAfter: retry}, nil
	default:
		return ctrl.Result{}, err
	}
}

// isUserError reports whether err is a failure only a person can fix.
func isUserError(err error) bool {
	var step *stepError
	return errors.As(err, &step) && step.user
}

// conditionState is the summary of one reconcile, written to the
// Ready/Reconciling/Stalled conditions.
type conditionState struct {
	ready   bool
	reason  string
	message string
	// stalled and reconciling are kstatus's abnormal-true conditions; at most
	// one is set. A not-Ready object is always one or the other, so that
	// kstatus (Flux, `kubectl wait`, Argo CD) never mistakes it for Current.
	stalled, reconciling bool
	// progress: the wait is normal convergence, told by a Normal Event.
	progress bool
}

// stateFor summarises a reconcile's error (nil for success).
func stateFor(err error, readyMessage string) conditionState {
	if err == nil {
		return conditionState{ready: true, reason: voicev1alpha1.ReasonSynced, message: readyMessage}
	}
	step := asStep(err)
	return conditionState{
		reason:      step.reason,
		message:     step.Error(),
		stalled:     step.class == classStalled,
		reconciling: step.class != classStalled,
		progress:    step.progress,
	}
}

// setConditions writes state into conds for generation. It reports whether
// the generation counts as handled: done (Ready) or stalled (waiting for a
// person); only then may status.observedGeneration move to it.
func setConditions(conds *[]metav1.Condition, generation int64, s conditionState) (handled bool) {
	ready := metav1.ConditionFalse
	if s.ready {
		ready = metav1.ConditionTrue
	}
	set := func(t string, status metav1.ConditionStatus, message string) {
		meta.SetStatusCondition(conds, metav1.Condition{
			Type: t, Status: status, Reason: s.reason, Message: truncate(message), ObservedGeneration: generation,
		})
	}
	// Ready's message is what `kubectl get -o wide` shows: one short clause.
	// Reconciling and Stalled carry the whole story, and what to do.
	set(voicev1alpha1.ConditionReady, ready, summary(s.message))
	if s.reconciling {
		set(voicev1alpha1.ConditionReconciling, metav1.ConditionTrue, s.message)
	} else {
		meta.RemoveStatusCondition(conds, voicev1alpha1.ConditionReconciling)
	}
	if s.stalled {
		set(voicev1alpha1.ConditionStalled, metav1.ConditionTrue, s.message)
	} else {
		meta.RemoveStatusCondition(conds, voicev1alpha1.ConditionStalled)
	}
	return s.ready || s.stalled
}

// summaryLength bounds Ready's message, the Message column of `kubectl get
// -o wide`.
const summaryLength = 100

// summary is the first clause of a message (up to the first "; " or ": "
// that follows some words), at most summaryLength bytes.
func summary(msg string) string {
	for _, sep := range []string{"; ", ": "} {
		if i := strings.Index(msg, sep); i >= 20 {
			msg = msg[:i]
		}
	}
	if len(msg) <= summaryLength {
		return msg
	}
	cut := summaryLength
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return strings.TrimRight(msg[:cut], " ,") + "…"
}

// truncate keeps condition messages within the API's 32 KiB limit (a remote
// error message is not ours to bound).
func truncate(msg string) string {
	const limit = 1024
	if len(msg) <= limit {
		return msg
	}
	return msg[:limit] + "…"
}

// patchStatus writes obj's status with a merge patch against before (obj as
// it was with its old status), and only when changed: a resync that found
// nothing new writes nothing. touch runs just before a real write, to stamp
// fields such as lastSyncTime that must not cause a write by themselves.
//
// The caller decides "changed" by comparing the typed statuses, which costs
// nothing; the patch is then computed once and sent as it is (letting Patch
// compute it again would marshal both copies of the object a second time,
// garbage that dominates memory when thousands of objects converge at once).
func patchStatus(ctx context.Context, c client.Client, obj, before client.Object, changed bool, touch func()) error {
	if !changed {
		return nil
	}
	if touch != nil {
		touch()
	}
	data, err := client.MergeFrom(before).Data(obj)
	if err != nil {
		return fmt.Errorf("computing status patch: %w", err)
	}
	if err := c.Status().Patch(ctx, obj, client.RawPatch(types.MergePatchType, data)); err != nil {
		return client.IgnoreNotFound(err)
	}
	return nil
}

// summarise writes a reconcile's outcome into status: the conditions,
// observedGeneration when the generation was handled, the handled
// reconcile-requested-at value, the metrics, and a Warning Event for a new
// failure. An object whose deletion went through is left alone: its status no
// longer matters.
func summarise(recorder events.EventRecorder, m *Metrics, kind string, obj object, old []metav1.Condition, err error, readyMessage string) {
	if !obj.GetDeletionTimestamp().IsZero() && err == nil {
		return
	}
	status := obj.GetCommonStatus()
	if value, ok := obj.GetAnnotations()[voicev1alpha1.AnnotationReconcileRequestedAt]; ok && err == nil {
		status.LastHandledReconcileAt = value
	}
	state := stateFor(err, readyMessage)
	if setConditions(&status.Conditions, obj.GetGeneration(), state) {
		status.ObservedGeneration = obj.GetGeneration()
	}
	m.observeReason(kind, client.ObjectKeyFromObject(obj), state.reason)
	if err != nil {
		warnOnChange(recorder, obj, old, state)
	}
}

// touchLastSync returns the patchStatus hook that stamps lastSyncTime when a
// status write happens anyway and the object is in sync, so the field never
// causes a write by itself.
func touchLastSync(obj object, err error) func() {
	return func() {
		if err == nil && obj.GetDeletionTimestamp().IsZero() {
			now := metav1.Now()
			obj.GetCommonStatus().LastSyncTime = &now
		}
	}
}
