package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
)

// Deps is what every reconciler of this package needs.
type Deps struct {
	// Client reads and writes the objects (through the manager's cache).
	Client client.Client
	// APIReader reads Secrets straight from the apiserver (see connector).
	APIReader client.Reader
	// Clients builds the Voice API client for a set of credentials.
	Clients ClientFactory
	// Recorder records Events on the objects.
	Recorder events.EventRecorder
	// ResyncPeriod is how often an unchanged object is compared with the
	// remote side again (jittered by up to 10%).
	ResyncPeriod time.Duration
	// Metrics records drift corrections and condition reasons; may be nil.
	Metrics *Metrics
	// Clock tells the time to everything that decides by it (how old a
	// List is, when a create was attempted); nil is the real clock. Tests
	// drive a fake one instead of sleeping.
	Clock clock.Clock

	// backoff spaces the retries of failures a person must fix (set up by
	// each controller's SetupWithManager).
	backoff workqueue.TypedRateLimiter[types.NamespacedName]
	// memory keeps each object's last credentials for its deletion.
	memory *credentialMemory
	// secrets reads the Secrets objects name.
	secrets *secretSource
}

// announce records what the controller did (or deliberately did not do) to
// the remote side, twice: as an Event on the object, for the people who
// own it, and as one info line in the log, which outlives Events, with the
// object named by the logger.
func (d *Deps) announce(ctx context.Context, obj client.Object, eventType, reason, action, note string, args ...any) {
	d.Recorder.Eventf(obj, nil, eventType, reason, action, note, args...)
	ctrl.LoggerFrom(ctx).Info(fmt.Sprintf(note, args...), "event", reason)
}

// setUp prepares what Deps keeps for one controller.
func (d *Deps) setUp() {
	if d.Clock == nil {
		d.Clock = clock.RealClock{}
	}
	d.backoff = workqueue.NewTypedItemExponentialFailureRateLimiter[types.NamespacedName](time.Second, 5*time.Minute)
	d.memory = newCredentialMemory()
	d.secrets = newSecretSource(d.APIReader, d.Client)
}

// retryAfter is how long an object waits before its next try after a
// failure a person must fix: 1 s, doubling per failure, up to 5 minutes.
func (d *Deps) retryAfter(key types.NamespacedName) time.Duration {
	return d.backoff.When(key)
}

// succeeded forgets an object's failures.
func (d *Deps) succeeded(key types.NamespacedName) {
	d.backoff.Forget(key)
}

func (d *Deps) connector() connector {
	return connector{secrets: d.secrets, clients: d.Clients, memory: d.memory}
}

// object is what the skeleton needs of an API object.
type object interface {
	client.Object
	GetCommonStatus() *voicev1alpha1.CommonStatus
	GetCredentialsRef() voicev1alpha1.SecretReference
}

// kind is what one kind's reconciler fills into the skeleton.
type kind[T object] interface {
	// name is the kind's name, for metrics.
	name() string
	// newObject returns an empty object to read into.
	newObject() T
	// reconcileNormal brings the remote side to the spec.
	reconcileNormal(ctx context.Context, obj T) error
	// reconcileDelete cleans the remote side up (or leaves it) and releases
	// the finalizer.
	reconcileDelete(ctx context.Context, obj T) error
	// readyMessage is the Ready condition's message when all is well.
	readyMessage(obj T) string
	// requeueAfter is when a reconciled object is looked at again (0: only
	// when something it watches changes).
	requeueAfter(obj T) time.Duration
	// status returns obj's whole status, to compare.
	status(obj T) any
	// copyStatus sets dst's status to src's.
	copyStatus(dst, src T)
}

// reconcileKind is the reconcile both kinds run: fetch → paused? → delete
// or normal → summarise into conditions → one status patch, only if the
// status changed. It only dispatches; the kind does the work.
func reconcileKind[T object](ctx context.Context, d *Deps, k kind[T], req ctrl.Request) (ctrl.Result, error) {
	obj := k.newObject()
	if err := d.Client.Get(ctx, req.NamespacedName, obj); err != nil {
		d.Metrics.forget(k.name(), req.NamespacedName)
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	old := obj.DeepCopyObject().(T)
	if isPaused(obj) {
		markPaused(ctx, d, obj)
		return ctrl.Result{}, writeStatus(ctx, d, k, obj, old, nil)
	}
	if meta.RemoveStatusCondition(&obj.GetCommonStatus().Conditions, voicev1alpha1.ConditionPaused) {
		d.announce(ctx, obj, corev1.EventTypeNormal, eventResumed, "Resume",
			"Resumed: the annotation %s is gone", voicev1alpha1.AnnotationPaused)
	}

	var err error
	if !obj.GetDeletionTimestamp().IsZero() {
		err = k.reconcileDelete(ctx, obj)
	} else {
		err = k.reconcileNormal(ctx, obj)
	}
	err = explainRejected(err, obj.GetCredentialsRef().Name)
	if isDeferred(err) && (asStep(err).after <= quietDeferral || asStep(err).routine) {
		// Not this object's turn yet: nothing was sent, and the wait is
		// not told. What the reconcile found before it had to wait (an
		// adopted id, the account of an AccountDefault, a resume) is kept,
		// if it changed the status at all; the conditions it would
		// summarise stay as they were.
		ctrl.LoggerFrom(ctx).V(1).Info("Deferred", "after", asStep(err).after, "reason", err.Error())
		if perr := writeStatus(ctx, d, k, obj, old, nil); perr != nil {
			return ctrl.Result{}, perr
		}
		return result(err, 0, 0)
	}

	summarise(d.Recorder, d.Metrics, k.name(), obj, old.GetCommonStatus().Conditions, err, k.readyMessage(obj))
	retry := time.Duration(0)
	switch {
	case err == nil:
		d.succeeded(req.NamespacedName)
	case isUserError(err):
		retry = d.retryAfter(req.NamespacedName)
		logOnce(ctx, old.GetCommonStatus().Conditions, err)
	}
	if perr := writeStatus(ctx, d, k, obj, old, touchLastSync(obj, err)); perr != nil {
		return ctrl.Result{}, errors.Join(err, perr)
	}
	return result(err, k.requeueAfter(obj), retry)
}

// quietDeferral is the longest wait for the account's turn that is not
// told: a longer one (a 429 whose Retry-After is minutes or an hour) is
// written as Throttled, so status does not go on saying what it said
// before for that long.
const quietDeferral = 10 * time.Second

// eventResumed is the Event of an object whose pause ended.
const eventResumed = "Resumed"

// writeStatus patches obj's status if it differs from old's; touch runs
// just before a real write. The patch is computed against obj with its old
// status, so that it holds the status change only, not the metadata this
// reconcile may have written meanwhile.
func writeStatus[T object](ctx context.Context, d *Deps, k kind[T], obj, old T, touch func()) error {
	before := obj.DeepCopyObject().(T)
	k.copyStatus(before, old)
	changed := !equality.Semantic.DeepEqual(k.status(obj), k.status(old))
	return patchStatus(ctx, d.Client, obj, before, changed, touch)
}

// markPaused tells, in status and once in an Event, that the object is
// paused and what waits for the pause to end. It makes no remote call and
// leaves observedGeneration alone, so a change made meanwhile reads as not
// yet handled (kstatus: InProgress).
func markPaused(ctx context.Context, d *Deps, obj object) {
	status := obj.GetCommonStatus()
	if meta.FindStatusCondition(status.Conditions, voicev1alpha1.ConditionPaused) == nil {
		d.announce(ctx, obj, corev1.EventTypeNormal, voicev1alpha1.ReasonPaused, "Pause",
			"Paused by the annotation %s: no remote calls until it is removed", voicev1alpha1.AnnotationPaused)
	}
	generation := obj.GetGeneration()
	meta.SetStatusCondition(&status.Conditions, metav1.Condition{Type: voicev1alpha1.ConditionPaused, Status: metav1.ConditionTrue,
		Reason: voicev1alpha1.ReasonPaused, ObservedGeneration: generation,
		Message: fmt.Sprintf("The annotation %s stops every remote call until it is removed", voicev1alpha1.AnnotationPaused)})
	ready := metav1.Condition{Type: voicev1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: voicev1alpha1.ReasonPaused, ObservedGeneration: generation}
	switch {
	case !obj.GetDeletionTimestamp().IsZero():
		ready.Message = "Paused: the deletion waits until the paused annotation is removed"
	case status.ObservedGeneration != generation:
		ready.Message = fmt.Sprintf("Paused: generation %d is not applied yet (last applied: %d)", generation, status.ObservedGeneration)
	default:
		ready.Status = metav1.ConditionTrue
		ready.Message = fmt.Sprintf("Paused; generation %d was applied", generation)
	}
	meta.SetStatusCondition(&status.Conditions, ready)
}

// explainRejected turns Twilio's refusal of the credentials into what to
// do about it: which Secret, which keys.
func explainRejected(err error, secret string) error {
	var step *stepError
	if !errors.As(err, &step) || step.reason != voicev1alpha1.ReasonCredentialsRejected {
		return err
	}
	explained := *step
	explained.err = fmt.Errorf("the credentials in Secret %q were rejected by Twilio; check that %s and %s (or %s and %s) are right and belong to the same account (%w)",
		secret, voicev1alpha1.SecretKeyAccountSID, voicev1alpha1.SecretKeyAuthToken, voicev1alpha1.SecretKeyAPIKey, voicev1alpha1.SecretKeyAPISecret, step.err)
	return &explained
}

// logOnce logs a failure a person must fix, at info and once: when the
// Ready condition's reason or message changes to it. Its retries are in
// status and Events already; an error log is for what the operator's own
// operators must look at.
func logOnce(ctx context.Context, old []metav1.Condition, err error) {
	step := asStep(err)
	if sameFailure(old, step.reason, step.Error()) {
		return
	}
	ctrl.LoggerFrom(ctx).Info("Waiting for a person to act", "reason", step.reason, "message", truncate(step.Error()))
}

// addFinalizer adds the finalizer, and whatever also sets (the create-intent
// marker), in one metadata write. It is the one place the finalizer is
// added, and it runs before anything is written remotely, to avoid the race
// between init and delete.
func addFinalizer(ctx context.Context, c client.Client, obj client.Object, also func()) error {
	err := patchMetadata(ctx, c, obj, func() {
		controllerutil.AddFinalizer(obj, voicev1alpha1.Finalizer)
		if also != nil {
			also()
		}
	})
	if err != nil {
		return transient(voicev1alpha1.ReasonProgressing, err)
	}
	return nil
}

// releaseFinalizer removes the finalizer once the remote side is cleaned up,
// and forgets the credentials remembered for it.
func (d *Deps) releaseFinalizer(ctx context.Context, obj client.Object) error {
	if err := patchMetadata(ctx, d.Client, obj, func() { controllerutil.RemoveFinalizer(obj, voicev1alpha1.Finalizer) }); err != nil {
		return transient(voicev1alpha1.ReasonProgressing, err)
	}
	d.memory.forget(obj.GetUID())
	return nil
}
