package controllers

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
	"github.com/twilio-operator/voice-operator/internal/voice"
)

// Event reasons for what the ClientConfiguration controller did. Failures use
// the condition reasons of api/v1alpha1.
const (
	eventCreated   = "Created"
	eventUpdated   = "Updated"
	eventCorrected = "DriftCorrected"
	eventSecret    = "SecretApplied"
	eventAdopted   = "Adopted"
	eventRecovered = "Recovered"
	eventRecreated = "Recreated"
	eventDeleted   = "Deleted"
	eventOrphaned  = "Orphaned"
	eventLeft      = "LeftInPlace"
)

// ClientConfigurationReconciler keeps one Twilio Voice v2 Client
// Configuration equal to each ClientConfiguration object.
type ClientConfigurationReconciler struct {
	Deps
	// MaxConcurrentReconciles bounds parallel reconciles (default 1).
	MaxConcurrentReconciles int
	// Observe is how the configuration of an object with a known id is
	// read each resync: ObserveList (the default) or ObserveGet.
	Observe ObserveMode
	// PageSize is the page size of the Lists (default voice.DefaultPageSize).
	PageSize int

	// LateCommitWindow is how long after a create whose answer was lost
	// the API may still make it (default DefaultLateCommitWindow).
	LateCommitWindow time.Duration

	remote  *remoteView
	holders *holderIndex
	claims  *claims
}

// +kubebuilder:rbac:groups=voice.twilio-operator.io,resources=clientconfigurations,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=voice.twilio-operator.io,resources=clientconfigurations/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=voice.twilio-operator.io,resources=clientconfigurations/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create

// Reconcile runs the skeleton of reconcile.go for a ClientConfiguration.
func (r *ClientConfigurationReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return reconcileKind(ctx, &r.Deps, r, req)
}

func (r *ClientConfigurationReconciler) name() string { return kindClientConfiguration }
func (r *ClientConfigurationReconciler) newObject() *voicev1alpha1.ClientConfiguration {
	return &voicev1alpha1.ClientConfiguration{}
}
func (r *ClientConfigurationReconciler) status(obj *voicev1alpha1.ClientConfiguration) any {
	return &obj.Status
}
func (r *ClientConfigurationReconciler) copyStatus(dst, src *voicev1alpha1.ClientConfiguration) {
	dst.Status = src.Status
}

// requeueAfter is when a reconciled object is looked at again: each resync
// period with ObserveGet; with ObserveList the periodic List enqueues only
// what changed. An object whose marker still holds an attempt of unknown
// outcome comes back when the outcome will be known, to delete what a late
// commit made.
func (r *ClientConfigurationReconciler) requeueAfter(obj *voicev1alpha1.ClientConfiguration) time.Duration {
	var due time.Duration
	if r.Observe != ObserveList {
		due = wait.Jitter(r.ResyncPeriod, 0.1)
	}
	if intent := readIntent(obj); intent != nil {
		for _, a := range intent.Attempts {
			// Only an attempt still in its window: past it, the next resync
			// decides it.
			if until := a.At.Add(r.lateCommitWindow()).Sub(r.Clock.Now()); until > 0 && (due == 0 || until+time.Second < due) {
				due = until + time.Second
			}
		}
	}
	return due
}

// reconcileNormal brings the remote configuration to the spec: observe,
// decide, act.
func (r *ClientConfigurationReconciler) reconcileNormal(ctx context.Context, obj *voicev1alpha1.ClientConfiguration) error {
	if err := r.releaseIfObserving(ctx, obj); err != nil {
		return err
	}
	r.dropUnowned(obj)
	api, err := r.connector().forObject(ctx, obj)
	if err != nil {
		return err
	}
	if err := sameAccount(obj, api); err != nil {
		return err
	}
	userinfo, err := r.connector().webhookAuth(ctx, obj)
	if err != nil {
		return err
	}
	want := desiredInput(obj, userinfo)
	seen, err := r.observe(ctx, obj, api, want)
	if err != nil {
		return err
	}
	return r.act(ctx, obj, api, want, seen)
}

// reconcileDelete removes the remote configuration (policy Delete) or leaves
// it (Orphan, ObserveOnly), and only then releases the finalizer: the same
// observe, decide and act as reconcileNormal. It never deletes a
// configuration this object cannot prove it owns, and never reports a
// deletion it cannot confirm.
func (r *ClientConfigurationReconciler) reconcileDelete(ctx context.Context, obj *voicev1alpha1.ClientConfiguration) error {
	if !controllerutil.ContainsFinalizer(obj, voicev1alpha1.Finalizer) {
		return nil
	}
	if err := r.releaseIfObserving(ctx, obj); err != nil {
		return err
	}
	r.dropUnowned(obj)
	seen := r.intentions(obj)
	if seen.orphan || seen.observeOnly {
		// Nothing remote to read: the configuration stays.
		return r.act(ctx, obj, nil, voice.ConfigurationInput{}, seen)
	}
	if obj.Status.ID == "" && readIntent(obj) == nil {
		return r.releaseFinalizer(ctx, obj)
	}
	api, err := r.connector().forDelete(ctx, obj)
	if err != nil {
		step := asStep(err)
		step.err = fmt.Errorf("cannot delete the remote configuration until the credentials are back (or set spec.deletionPolicy: Orphan to let this object go): %w", step.err)
		return step
	}
	if err := sameAccount(obj, api); err != nil {
		return err
	}
	seen, err = r.observe(ctx, obj, api, desiredInput(obj, nil))
	if err != nil {
		return err
	}
	return r.act(ctx, obj, api, voice.ConfigurationInput{}, seen)
}

// releaseIfObserving makes an ObserveOnly object let go of what it owned,
// in the apiserver, before anything else can fail: it owns nothing while
// it observes (the marker's released id lets it take the configuration
// back on turning to Manage, if nobody took it meanwhile).
func (r *ClientConfigurationReconciler) releaseIfObserving(ctx context.Context, obj *voicev1alpha1.ClientConfiguration) error {
	intent := readIntent(obj)
	if obj.Spec.ManagementPolicy != voicev1alpha1.ManagementPolicyObserveOnly || intent == nil || (intent.Created == "" && intent.Adopted == "") {
		return nil
	}
	released := *intent
	released.Released, released.Created, released.Adopted = cmp.Or(intent.Adopted, intent.Created), "", ""
	if err := patchMetadata(ctx, r.Client, obj, func() { setIntent(obj, &released) }); err != nil {
		return transient(voicev1alpha1.ReasonProgressing, err)
	}
	r.claims.forget(obj.UID)
	return nil
}

// dropUnowned forgets a status.id a Manage object does not own (its marker
// does not record it: read while the object was ObserveOnly, released, or
// written by hand): status never shows it as owned, and it is never
// deleted, whatever fails next.
func (r *ClientConfigurationReconciler) dropUnowned(obj *voicev1alpha1.ClientConfiguration) {
	if obj.Spec.ManagementPolicy != voicev1alpha1.ManagementPolicyObserveOnly && obj.Status.ID != "" && !owns(obj, obj.Status.AccountSID, obj.Status.ID) {
		r.forgetRemote(obj)
	}
}

// intentions is the part of an observation that the object alone says.
func (r *ClientConfigurationReconciler) intentions(obj *voicev1alpha1.ClientConfiguration) observation {
	return observation{
		observeOnly: obj.Spec.ManagementPolicy == voicev1alpha1.ManagementPolicyObserveOnly,
		deleting:    !obj.DeletionTimestamp.IsZero(),
		orphan:      obj.Spec.DeletionPolicy == voicev1alpha1.DeletionPolicyOrphan,
		adopt:       wantsAdoption(obj),
	}
}

// observe reads the remote side and says what this object owns there (or,
// under ObserveOnly, reads), who holds its unique name, and who else owns
// either. It is the one observe of every policy and of deletion, and it
// never writes, remote or local.
func (r *ClientConfigurationReconciler) observe(ctx context.Context, obj *voicev1alpha1.ClientConfiguration, api VoiceAPI, want voice.ConfigurationInput) (observation, error) {
	seen := r.intentions(obj)
	if err := r.observeOwned(ctx, obj, api, &seen); err != nil {
		return seen, err
	}
	if !seen.observeOnly {
		if err := r.observeAttempts(ctx, obj, api, &seen); err != nil {
			return seen, err
		}
	}
	if seen.owned == nil && !seen.deleting && !seen.unconfirmed {
		if err := r.observeName(ctx, obj, api, want, &seen); err != nil {
			return seen, err
		}
	}
	if !seen.observeOnly {
		held := seen.owned
		if held == nil && !seen.deleting {
			held = seen.holder
		}
		if held != nil {
			rival, err := r.claims.rival(ctx, obj, api.AccountSID(), held.ID)
			if err != nil {
				return seen, err
			}
			seen.rival = rival
		}
	}
	if cfg := cmpOr(seen.owned, seen.holder); cfg != nil {
		seen.drifted = drift(want, cfg)
	}
	return seen, nil
}

// observeOwned reads the configuration this object owns: the one status.id
// names when the marker records it as created or adopted by this object,
// or else the one the marker says a create of this object made. An
// ObserveOnly object reads the one status.id names.
func (r *ClientConfigurationReconciler) observeOwned(ctx context.Context, obj *voicev1alpha1.ClientConfiguration, api VoiceAPI, seen *observation) error {
	id := obj.Status.ID
	if !seen.observeOnly && !owns(obj, api.AccountSID(), id) {
		// Read while ObserveOnly, or written by hand: not evidence.
		id = ""
		if intent := readIntent(obj); intent != nil && intent.Account == api.AccountSID() {
			id = cmp.Or(intent.Created, intent.Released)
		}
	}
	if id == "" {
		return nil
	}
	cfg, err := r.remote.get(ctx, api, id, resyncRequested(obj))
	switch {
	case err == nil:
		seen.owned, seen.recovered = cfg, id != obj.Status.ID
		return nil
	case !voice.IsNotFound(err):
		return r.yieldIfRoutine(obj, remoteError("reading remote configuration "+id, err))
	}
	seen.vanished = id
	// A 404 is news only when the collection answers: an account whose
	// access to the beta ended answers 404 to every path. And through
	// credentials never seen to act on the account it may be another
	// account's answer: a List that names the account settles that.
	if err := collectionReadable(ctx, api); err != nil {
		return remoteError("confirming that remote configuration "+id+" is gone", err)
	}
	seen.unconfirmed = !api.Verified()
	if !seen.unconfirmed {
		// Gone for good: no snapshot, older or newer, may show it any more.
		r.remote.deleted(api, id)
	}
	return nil
}

// yieldIfRoutine makes a periodic read of an object in sync, kept back by
// the account's gate (a 429 met by any request of the account), wait for
// its next resync instead of the gate's next turn: under throttling, the
// turns go to objects with work to do (a create's name check, a change),
// which thousands of routine reads would otherwise starve.
func (r *ClientConfigurationReconciler) yieldIfRoutine(obj *voicev1alpha1.ClientConfiguration, err error) error {
	ready := meta.FindStatusCondition(obj.Status.Conditions, voicev1alpha1.ConditionReady)
	if !isDeferred(err) || ready == nil || ready.Status != metav1.ConditionTrue || obj.Status.ObservedGeneration != obj.Generation || resyncRequested(obj) {
		return err
	}
	step := *asStep(err)
	step.after, step.routine = max(step.after, wait.Jitter(r.ResyncPeriod, 0.1)), true
	return &step
}

// observeAttempts learns the outcome of the marker's create attempts: a
// configuration an attempt proves is owned (when nothing else is) or a
// stray; an attempt a List long enough after it does not prove is
// resolved as not made; the others are pending.
func (r *ClientConfigurationReconciler) observeAttempts(ctx context.Context, obj *voicev1alpha1.ClientConfiguration, api VoiceAPI, seen *observation) error {
	intent := readIntent(obj)
	if intent == nil || intent.Account != api.AccountSID() {
		return nil
	}
	for i, a := range intent.Attempts {
		if a.User != "" && a.User != api.Username() {
			// Sent with other credentials (perhaps another account's key):
			// these cannot look where it went.
			seen.elsewhere = a.User
			continue
		}
		// A List that started after the attempt shows what it made; once
		// the window has passed, only one that started after the window
		// can show that it made nothing more.
		decided := a.At.Add(r.lateCommitWindow())
		since := a.At.Add(clockSkew)
		if !r.Clock.Now().Before(decided) {
			since = decided
		}
		// And at most nameCheckMaxAge old, whatever its walk took: what it
		// finds may be taken over.
		if recent := r.Clock.Now().Add(-nameCheckMaxAge); since.Before(recent) {
			since = recent
		}
		found, listed, err := r.remote.holderOf(ctx, api, a.Name, startedAfter(since))
		if err != nil {
			return remoteError(fmt.Sprintf("looking for what an interrupted create of %q made", a.Name), err)
		}
		if found != nil && a.proves(api.AccountSID(), found) && r.claims.recordedBy(obj, api.AccountSID(), found.ID) == "" {
			switch {
			case seen.owned == nil:
				seen.owned, seen.recovered = found, true
			case found.ID != seen.owned.ID:
				seen.strays = append(seen.strays, *found)
			}
		}
		if !listed.Before(decided) {
			// Past the window nothing more can come of it: resolved.
			seen.resolved = append(seen.resolved, i)
			continue
		}
		// Even a configuration it proves may be a look-alike while the
		// POST itself is still on its way: the attempt stays until the
		// window has passed.
		seen.pending++
		if seen.pendingUntil.IsZero() || decided.Before(seen.pendingUntil) {
			seen.pendingUntil = decided
		}
	}
	return nil
}

// observeName finds who holds the spec's unique name. A name shown free
// must be shown so by a List fresh enough to create after (nameCheck); the
// name an ObserveOnly object looks for too, so that a configuration made
// in the Console seconds ago is found, and a person's request for a resync
// reads afresh.
func (r *ClientConfigurationReconciler) observeName(ctx context.Context, obj *voicev1alpha1.ClientConfiguration, api VoiceAPI, want voice.ConfigurationInput, seen *observation) error {
	since := nameCheck
	if seen.observeOnly {
		// What an ObserveOnly object reports must be recent, however long
		// the account's List walks take (a slow or resumed walk may hold
		// pages from before a configuration was deleted).
		since = startedAfter(r.Clock.Now().Add(-nameCheckMaxAge))
	}
	if seen.vanished != "" || resyncRequested(obj) {
		// Someone changed the account behind our back, or a person asks:
		// a List from before proves nothing.
		since = startedAfter(r.Clock.Now())
	}
	holder, listed, err := r.remote.holderOf(ctx, api, want.UniqueName, since)
	if err != nil {
		return remoteError(fmt.Sprintf("checking that unique name %q is free", want.UniqueName), err)
	}
	seen.holder, seen.freeAt = holder, listed
	if holder == nil && !seen.observeOnly {
		seen.creator = r.claims.creator(obj, api.AccountSID(), want.UniqueName, r.Clock.Now().Add(-r.lateCommitWindow()))
	}
	// Nothing found through credentials never seen to act on the account
	// may be another account's emptiness. A create would find out (its
	// answer names the account); an ObserveOnly object must not report
	// NotFound on it.
	seen.unconfirmed = holder == nil && seen.observeOnly && !api.Verified()
	return nil
}

// act does what decide chose, and only then records the Event.
func (r *ClientConfigurationReconciler) act(ctx context.Context, obj *voicev1alpha1.ClientConfiguration, api VoiceAPI, want voice.ConfigurationInput, seen observation) error {
	if err := r.settleIntent(ctx, obj, seen); err != nil {
		return err
	}
	switch decide(seen) {
	case actDeleteStrays:
		if err := r.deleteStrays(ctx, obj, api, seen.strays); err != nil {
			return err
		}
		seen.strays = nil
		return r.act(ctx, obj, api, want, seen)
	case actConflict:
		return r.conflict(obj, seen.rival, cmpOr(seen.owned, seen.holder))
	case actManage:
		if seen.recovered {
			r.event(ctx, obj, corev1.EventTypeNormal, eventRecovered, "Recover",
				"Found remote configuration %s that an interrupted create of this object made; managing it", seen.owned.ID)
		}
		return r.manage(ctx, obj, api, seen.owned, want, seen.drifted)
	case actAdopt:
		// A takeover reads the truth, not a List that may be seconds old:
		// one GET per adoption.
		current, err := api.Get(ctx, seen.holder.ID)
		if err != nil {
			return remoteError("reading remote configuration "+seen.holder.ID+" before adopting it", err)
		}
		if current.UniqueName != want.UniqueName {
			return transient(voicev1alpha1.ReasonProgressing, fmt.Errorf("remote configuration %s was renamed to %q before it could be adopted; looking again", current.ID, current.UniqueName))
		}
		seen.holder, seen.drifted = current, drift(want, current)
		// Recorded before the first write, so that the object owns what
		// it writes, whatever happens next.
		adopted := intentFor(obj, api.AccountSID(), api.Location())
		adopted.Adopted = seen.holder.ID
		if err := patchMetadata(ctx, r.Client, obj, func() { setIntent(obj, adopted) }); err != nil {
			return transient(voicev1alpha1.ReasonProgressing, err)
		}
		r.event(ctx, obj, corev1.EventTypeNormal, eventAdopted, "Adopt",
			"Adopted existing remote configuration %s (annotation %s)", seen.holder.ID, voicev1alpha1.AnnotationAdopt)
		return r.manage(ctx, obj, api, seen.holder, want, seen.drifted)
	case actAlreadyExists:
		return r.alreadyExists(obj, seen.holder)
	case actReport:
		found := cmpOr(seen.owned, seen.holder)
		r.remote.verified(api, obj, found)
		r.record(obj, api, found, seen.drifted)
		return nil
	case actNotFound:
		r.forgetRemote(obj)
		return &stepError{reason: voicev1alpha1.ReasonNotFound, class: classWaiting, user: true, after: r.ResyncPeriod, err: fmt.Errorf(
			"no remote configuration has unique name %q; managementPolicy is ObserveOnly, so it is not created", obj.Spec.UniqueName)}
	case actWait:
		if seen.creator != "" {
			return &stepError{reason: voicev1alpha1.ReasonProgressing, class: classWaiting, progress: true, after: time.Second, err: fmt.Errorf(
				"ClientConfiguration %s may be creating unique name %q right now (the outcome of its create is not known yet); waiting for it", seen.creator, want.UniqueName)}
		}
		return &stepError{reason: voicev1alpha1.ReasonProgressing, class: classWaiting, progress: true,
			after: max(seen.pendingUntil.Sub(r.Clock.Now()), time.Second), err: fmt.Errorf(
				"waiting until %s to learn whether an earlier create attempt, whose answer was lost, made a configuration",
				seen.pendingUntil.UTC().Format(time.RFC3339))}
	case actUnconfirmed:
		if seen.elsewhere != "" && seen.vanished == "" {
			return stalled(voicev1alpha1.ReasonAccountMismatch, fmt.Errorf(
				"an earlier create, sent as %s, lost its answer: it may have made a configuration where those credentials act, which the credentials in Secret %q now cannot look into. Put those credentials back until this object is deleted, or set spec.deletionPolicy: Orphan",
				seen.elsewhere, obj.Spec.CredentialsRef.Name))
		}
		what := "remote configuration " + seen.vanished
		if seen.vanished == "" {
			what = fmt.Sprintf("a remote configuration with unique name %q", obj.Spec.UniqueName)
		}
		return r.unconfirmed(obj, what)
	case actDelete:
		return r.deleteOwned(ctx, obj, api, seen.owned.ID)
	case actRelease:
		return r.release(ctx, obj, seen)
	}
	return r.create(ctx, obj, api, want, seen)
}

// manage takes cfg as this object's configuration and, if it differs from
// the spec in any field we own, replaces it with one full PUT.
func (r *ClientConfigurationReconciler) manage(ctx context.Context, obj *voicev1alpha1.ClientConfiguration, api VoiceAPI, cfg *voice.Configuration, want voice.ConfigurationInput, drifted []string) error {
	if rival, ok := r.claims.claim(obj, api.AccountSID(), cfg.ID); !ok {
		// Taken by another object of this process a moment ago, before its
		// status reached the cache.
		return r.conflict(obj, rival.String(), cfg)
	}
	if err := addFinalizer(ctx, r.Client, obj, nil); err != nil {
		return err
	}
	r.record(obj, api, cfg, drifted)
	if len(drifted) == 0 {
		r.remote.verified(api, obj, cfg)
		return nil
	}
	if err := admit(api, obj, "updating remote configuration "+cfg.ID); err != nil {
		return err
	}
	source := r.driftSource(api, obj, cfg)
	updated, err := api.Update(ctx, cfg.ID, want)
	if err != nil {
		if taken := r.nameTakenOnUpdate(ctx, api, cfg.ID, want.UniqueName, err); taken != nil {
			return taken
		}
		return remoteError("updating remote configuration "+cfg.ID, err)
	}
	r.remote.wrote(api, updated)
	r.remote.verified(api, obj, updated)
	r.record(obj, api, updated, nil)
	r.Metrics.driftCorrected(kindClientConfiguration, source)
	r.event(ctx, obj, corev1.EventTypeNormal, updateReason[source], "Update",
		"Updated remote configuration %s (%s changed: %s)", cfg.ID, source, strings.Join(drifted, ", "))
	return nil
}

// updateReason gives each source of a PUT its own Event reason, so that
// `kubectl events --for` can be filtered by cause: the spec, a change made
// in Twilio, or a rotated password.
var updateReason = map[string]string{
	sourceSpec:   eventUpdated,
	sourceRemote: eventCorrected,
	sourceSecret: eventSecret,
}

// driftSource says what made the remote configuration differ from the
// spec: the spec (a new generation), the remote side (someone changed it),
// or the Secret of the webhook's basic auth (the spec and the remote side
// are as last found right, but the password the operator sends changed).
func (r *ClientConfigurationReconciler) driftSource(api VoiceAPI, obj *voicev1alpha1.ClientConfiguration, cfg *voice.Configuration) string {
	switch {
	case obj.Status.ObservedGeneration != obj.Generation:
		return sourceSpec
	case r.remote.unchangedSince(api, obj, cfg):
		return sourceSecret
	}
	return sourceRemote
}

// nameTakenOnUpdate explains a refused PUT: when another configuration
// holds the unique name the PUT asked for, that is the reason (a rename
// onto a taken name), and it is AlreadyExists; otherwise it returns nil.
func (r *ClientConfigurationReconciler) nameTakenOnUpdate(ctx context.Context, api VoiceAPI, id, name string, err error) error {
	if cls := voice.ClassOf(err); cls != voice.ClassInvalid && cls != voice.ClassConflict {
		return nil
	}
	holder, _, lerr := r.remote.holderOf(ctx, api, name, startedAfter(r.Clock.Now()))
	if lerr != nil {
		// Whether the name is taken cannot be told yet: try again, rather
		// than stall on a refusal whose reason is unknown.
		return remoteError(fmt.Sprintf("looking up who holds unique name %q after a refused update", name), lerr)
	}
	if holder == nil || holder.ID == id {
		return nil
	}
	return stalled(voicev1alpha1.ReasonAlreadyExists, fmt.Errorf(
		"cannot rename remote configuration %s to %q: remote configuration %s already has that unique name; choose another uniqueName (%w)",
		id, name, holder.ID, err))
}

// create POSTs the spec. The attempt is recorded in the create-intent
// marker, in the same patch as the finalizer, before the POST; the moment
// the POST answers, its outcome replaces it there (ownership.go).
func (r *ClientConfigurationReconciler) create(ctx context.Context, obj *voicev1alpha1.ClientConfiguration, api VoiceAPI, want voice.ConfigurationInput, seen observation) error {
	account := api.AccountSID()
	if !r.claims.reserve(obj, account, want.UniqueName) {
		return transient(voicev1alpha1.ReasonProgressing, fmt.Errorf("another object is creating unique name %q in account %s right now", want.UniqueName, account))
	}
	defer r.claims.release(obj, account, want.UniqueName)
	// The turn comes before the marker: a create that must wait writes
	// nothing, and comes back when its turn is due.
	if err := admit(api, obj, fmt.Sprintf("creating remote configuration %q", want.UniqueName)); err != nil {
		return err
	}
	intent := intentFor(obj, account, api.Location())
	intent.Attempts = append(intent.Attempts, newAttempt(r.Clock.Now(), want, seen.freeAt, api.Username()))
	if err := addFinalizer(ctx, r.Client, obj, func() { setIntent(obj, intent) }); err != nil {
		return err
	}

	created, err := api.Create(ctx, want)
	switch {
	case err == nil:
		r.remote.wrote(api, created)
		r.claims.claim(obj, account, created.ID) // new: nobody else can hold it
		r.remote.verified(api, obj, created)
		r.record(obj, api, created, nil)
		if err := r.resolveLastAttempt(ctx, obj, intent, created.ID); err != nil {
			return err
		}
		if seen.vanished != "" {
			r.event(ctx, obj, corev1.EventTypeWarning, eventRecreated, "Recreate",
				"Remote configuration %s was deleted outside Kubernetes; created %s in its place", seen.vanished, created.ID)
		} else {
			r.event(ctx, obj, corev1.EventTypeNormal, eventCreated, "Create", "Created remote configuration %s", created.ID)
		}
		return nil
	case voice.ClassOf(err) == voice.ClassAccountMismatch:
		if rerr := r.resolveLastAttempt(ctx, obj, intent, ""); rerr != nil {
			return rerr
		}
		return r.strayCreate(ctx, obj, api, created, err)
	case voice.IsAmbiguous(err):
		// It may have been made, or may still be. The attempt stays in the
		// marker until a List shows what it made, or long enough after it
		// that nothing did (observeAttempts).
		return transient(voicev1alpha1.ReasonRemoteUnavailable,
			fmt.Errorf("creating remote configuration %q: outcome unknown, will look for it before trying again: %w", want.UniqueName, err))
	}
	// The POST was refused, so it made nothing: the attempt is resolved, and
	// can never vouch for a configuration someone else creates.
	if rerr := r.resolveLastAttempt(ctx, obj, intent, ""); rerr != nil {
		return rerr
	}
	switch voice.ClassOf(err) {
	case voice.ClassInvalid, voice.ClassConflict:
		// The reference does not say how a taken name is refused: look.
		holder, _, lerr := r.remote.holderOf(ctx, api, want.UniqueName, startedAfter(r.Clock.Now()))
		switch {
		case lerr != nil:
			return remoteError(fmt.Sprintf("looking up %q after a refused create", want.UniqueName), lerr)
		case holder != nil:
			return r.alreadyExists(obj, holder) // taken between the check and the POST
		case voice.ClassOf(err) == voice.ClassConflict:
			// A conflict for a name nobody has: a race with a delete.
			return transient(voicev1alpha1.ReasonRemoteUnavailable, fmt.Errorf("creating remote configuration: %w", err))
		}
	}
	return remoteError("creating remote configuration", err)
}

// resolveLastAttempt records the outcome of the attempt create just made
// (intent's last): it leaves the marker, and created, if the POST made a
// configuration, is recorded as this object's.
func (r *ClientConfigurationReconciler) resolveLastAttempt(ctx context.Context, obj *voicev1alpha1.ClientConfiguration, intent *createIntent, created string) error {
	settled := intent.without([]int{len(intent.Attempts) - 1})
	if created != "" {
		settled.Created = created
	}
	if err := patchMetadata(ctx, r.Client, obj, func() { setIntent(obj, settled) }); err != nil {
		return transient(voicev1alpha1.ReasonProgressing, fmt.Errorf("recording the outcome of a create: %w", err))
	}
	return nil
}

// strayCreate handles a create that the API answered for another account
// than the Secret names: the configuration is provably the one just made
// (its id came back), so it is deleted at once, and the object stalls
// until a person fixes the Secret.
func (r *ClientConfigurationReconciler) strayCreate(ctx context.Context, obj *voicev1alpha1.ClientConfiguration, api VoiceAPI, stray *voice.Configuration, err error) error {
	outcome := ""
	if stray != nil {
		outcome = "; deleted the configuration it made there (" + stray.ID + ") at once"
		if derr := deleteStray(ctx, api, stray.ID); derr != nil && !voice.IsNotFound(derr) {
			outcome = "; deleting the configuration it made there (" + stray.ID + ") failed, so delete it by hand: " + derr.Error()
			r.event(ctx, obj, corev1.EventTypeWarning, voicev1alpha1.ReasonAccountMismatch, "Delete",
				"A create landed in account %s by mistake and configuration %s could not be deleted there; delete it by hand", stray.AccountSID, stray.ID)
		}
	}
	return stalled(voicev1alpha1.ReasonAccountMismatch, fmt.Errorf(
		"the credentials in Secret %q belong to another account than its %s says (%w)%s. Fix the Secret so that the SID and the key or token are of the same account",
		obj.Spec.CredentialsRef.Name, voicev1alpha1.SecretKeyAccountSID, err, outcome))
}

// strayDeleteWait bounds how long deleteStray waits out throttling.
const strayDeleteWait = time.Minute

// deleteStray deletes a configuration a create made in the wrong account.
// It is the one place a worker waits out the rate limit or a Retry-After
// inline (for up to strayDeleteWait): the id is known only here, so the
// delete cannot wait for a requeue.
func deleteStray(ctx context.Context, api VoiceAPI, id string) error {
	deadline := time.Now().Add(strayDeleteWait)
	for {
		err := api.Delete(ctx, id)
		if voice.ClassOf(err) != voice.ClassThrottled {
			return err
		}
		pause := max(voice.RetryAfterOf(err), 100*time.Millisecond)
		if time.Until(deadline) < pause {
			return err
		}
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return err
		}
	}
}

// alreadyExists reports that the unique name belongs to a configuration this
// object cannot prove it created: it is never changed or deleted, and a
// vanished id is forgotten. The stall wakes when the spec or the adopt
// annotation changes, and otherwise with capped backoff, so a name that
// frees is taken.
func (r *ClientConfigurationReconciler) alreadyExists(obj *voicev1alpha1.ClientConfiguration, holder *voice.Configuration) error {
	r.forgetRemote(obj)
	return stalled(voicev1alpha1.ReasonAlreadyExists, fmt.Errorf(
		"unique name %q is already used by remote configuration %s, which this object cannot prove it created; it will not be changed or deleted. Choose another uniqueName, or set the annotation %s: \"true\" to manage that configuration",
		holder.UniqueName, holder.ID, voicev1alpha1.AnnotationAdopt))
}

// conflict reports that another object already owns the configuration this
// one would manage. One remote configuration has one owner: the object
// that held it first keeps it, and this one writes nothing and forgets it
// until the owner lets go.
func (r *ClientConfigurationReconciler) conflict(obj *voicev1alpha1.ClientConfiguration, rival string, cfg *voice.Configuration) error {
	r.forgetRemote(obj)
	return stalled(voicev1alpha1.ReasonConflict, fmt.Errorf(
		"remote configuration %s (unique name %q) is already managed by ClientConfiguration %s; a remote configuration has one owner, so this object leaves it alone. Delete one of the two objects, or give this one another uniqueName",
		cfg.ID, cfg.UniqueName, rival))
}

// forgetRemote drops the remote configuration from status: this object no
// longer owns (or reads) one.
func (r *ClientConfigurationReconciler) forgetRemote(obj *voicev1alpha1.ClientConfiguration) {
	obj.Status.ID, obj.Status.AccountSID, obj.Status.Remote = "", "", nil
	meta.RemoveStatusCondition(&obj.Status.Conditions, voicev1alpha1.ConditionInSync)
	r.remote.forget(obj)
	r.claims.forget(obj.UID)
}

// collectionReadable reads the first page of one configuration: nil when
// the account's configurations can be listed at all.
func collectionReadable(ctx context.Context, api VoiceAPI) error {
	_, err := api.ListPage(ctx, 1, "")
	return err
}

// deleteRefused explains a refused delete. The API may refuse to delete
// the account's default configuration (the reference does not say): while
// it is the default, the delete waits (IsDefault), since unsetting the
// default (by deleting the AccountDefault that set it, or by hand) lets it
// through; if it no longer is, the default was just unset, and the delete
// is tried once more. It returns the outcome of that delete, or why it
// cannot be deleted.
func (r *ClientConfigurationReconciler) deleteRefused(ctx context.Context, api VoiceAPI, id string, refused error) error {
	def, err := api.GetDefault(ctx)
	switch {
	case err == nil && def.ID == id:
		// No delay given: it is looked at again with the object's capped
		// backoff, not in a fixed short loop.
		return &stepError{reason: voicev1alpha1.ReasonIsDefault, class: classWaiting, user: true, backoff: true, err: fmt.Errorf(
			"remote configuration %s is the account's default, and Twilio refuses to delete it (%w); delete the AccountDefault that set it, or unset the default, and the delete goes through",
			id, refused)}
	case err != nil && !voice.IsNotFound(err):
		return remoteError("reading the account's default after a refused delete", err)
	}
	if err := api.Delete(ctx, id); voice.ClassOf(err) != voice.ClassInvalid && voice.ClassOf(err) != voice.ClassConflict {
		return err
	}
	return stalled(voicev1alpha1.ReasonDeletionFailed, fmt.Errorf(
		"deleting remote configuration %s was refused; the finalizer stays until it is deleted, or set spec.deletionPolicy: Orphan: %w", id, refused))
}

func (r *ClientConfigurationReconciler) releaseFinalizer(ctx context.Context, obj *voicev1alpha1.ClientConfiguration) error {
	if err := r.Deps.releaseFinalizer(ctx, obj); err != nil {
		return err
	}
	r.remote.forget(obj)
	r.claims.forget(obj.UID)
	return nil
}

// record stores what the remote side holds (its id, account and fields,
// the URL without its credentials) and whether it differs from the spec (drifted fields).
func (r *ClientConfigurationReconciler) record(obj *voicev1alpha1.ClientConfiguration, api VoiceAPI, cfg *voice.Configuration, drifted []string) {
	obj.Status.ID = cfg.ID
	obj.Status.AccountSID = api.AccountSID()
	state := remoteState(cfg)
	obj.Status.Remote = &state
	setInSync(&obj.Status.Conditions, obj.Generation, drifted, obj.Spec.ManagementPolicy == voicev1alpha1.ManagementPolicyObserveOnly)
}

// remoteState is a remote configuration as status records it.
func remoteState(cfg *voice.Configuration) voicev1alpha1.RemoteConfiguration {
	return voicev1alpha1.RemoteConfiguration{
		UniqueName:             cfg.UniqueName,
		Description:            deref(cfg.Description),
		CallNotificationURL:    withoutUserinfo(cfg.CallNotification.URL),
		CallNotificationMethod: cfg.CallNotification.Method,
	}
}

// resyncRequested reports whether the reconcile-requested-at annotation
// holds a value not handled yet: then the remote side is read afresh.
func resyncRequested(obj *voicev1alpha1.ClientConfiguration) bool {
	value, ok := obj.Annotations[voicev1alpha1.AnnotationReconcileRequestedAt]
	return ok && value != obj.Status.LastHandledReconcileAt
}

func (r *ClientConfigurationReconciler) readyMessage(obj *voicev1alpha1.ClientConfiguration) string {
	if obj.Spec.ManagementPolicy == voicev1alpha1.ManagementPolicyObserveOnly {
		// Drift is reported, never corrected: say which fields, right in the
		// Message column.
		if c := meta.FindStatusCondition(obj.Status.Conditions, voicev1alpha1.ConditionInSync); c != nil && c.Status == metav1.ConditionFalse {
			return "ObserveOnly; differs from the spec in " + strings.TrimPrefix(c.Message, driftPrefix)
		}
		return "ObserveOnly; matches the spec"
	}
	// The id has a column of its own.
	return "Matches the spec"
}

func (r *ClientConfigurationReconciler) event(ctx context.Context, obj *voicev1alpha1.ClientConfiguration, eventType, reason, action, note string, args ...any) {
	r.announce(ctx, obj, eventType, reason, action, note, args...)
}

// SetupWithManager registers the controller: ClientConfigurations, and the
// Secrets they name through a metadata-only watch (Secret contents are never
// cached).
func (r *ClientConfigurationReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	if r.Observe == "" {
		r.Observe = ObserveList
	}
	if r.Observe != ObserveList && r.Observe != ObserveGet {
		return fmt.Errorf("observe mode must be %s or %s, not %q", ObserveList, ObserveGet, r.Observe)
	}
	if r.PageSize <= 0 {
		r.PageSize = voice.DefaultPageSize
	}
	r.setUp()
	r.holders = newHolderIndex()
	r.remote = newRemoteView(r.holders, r.Clock, r.Observe, r.ResyncPeriod, r.PageSize)
	r.claims = newClaims(r.holders, mgr.GetAPIReader())
	if err := mgr.GetFieldIndexer().IndexField(ctx, &voicev1alpha1.ClientConfiguration{}, credentialsIndex, func(o client.Object) []string {
		return secretsOf(o.(*voicev1alpha1.ClientConfiguration))
	}); err != nil {
		return fmt.Errorf("indexing ClientConfigurations by %s: %w", credentialsIndex, err)
	}
	if err := r.holders.register(ctx, mgr.GetCache()); err != nil {
		return err
	}
	b := ctrl.NewControllerManagedBy(mgr).
		For(&voicev1alpha1.ClientConfiguration{}, builder.WithPredicates(reconcileTriggers())).
		WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(dependentsOfSecret(mgr.GetClient(), &voicev1alpha1.ClientConfigurationList{}))).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(r.MaxConcurrentReconciles, 1)}).
		Named("clientconfiguration")
	if r.Observe == ObserveList {
		if err := mgr.Add(r.remote); err != nil {
			return fmt.Errorf("adding the remote view: %w", err)
		}
		b = b.WatchesRawSource(r.remote.source())
	}
	return b.Complete(r)
}

// dependentsOfSecret maps a Secret to the objects of list's kind, in its
// namespace, whose credentialsRef names it.
func dependentsOfSecret(c client.Client, list client.ObjectList) handler.MapFunc {
	return func(ctx context.Context, secret client.Object) []reconcile.Request {
		l := list.DeepCopyObject().(client.ObjectList)
		if err := c.List(ctx, l, client.InNamespace(secret.GetNamespace()), client.MatchingFields{credentialsIndex: secret.GetName()}); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "Failed to list objects that use a Secret", "secret", secret.GetName())
			return nil
		}
		items, err := meta.ExtractList(l)
		if err != nil {
			return nil
		}
		requests := make([]reconcile.Request, 0, len(items))
		for _, item := range items {
			if o, ok := item.(client.Object); ok {
				requests = append(requests, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(o)})
			}
		}
		return requests
	}
}

// cmpOr returns the first non-nil configuration.
func cmpOr(cfgs ...*voice.Configuration) *voice.Configuration {
	for _, c := range cfgs {
		if c != nil {
			return c
		}
	}
	return nil
}

// lateCommitWindow is LateCommitWindow, or its default.
func (r *ClientConfigurationReconciler) lateCommitWindow() time.Duration {
	if r.LateCommitWindow > 0 {
		return r.LateCommitWindow
	}
	return DefaultLateCommitWindow
}

// settleIntent records in the apiserver what the observation learned of
// the marker's attempts (the outcomes now known, and the configuration an
// interrupted create turned out to have made), before anything acts on
// it: a resolved attempt never proves anything again.
func (r *ClientConfigurationReconciler) settleIntent(ctx context.Context, obj *voicev1alpha1.ClientConfiguration, seen observation) error {
	intent := readIntent(obj)
	if intent == nil {
		return nil
	}
	if len(seen.resolved) == 0 && !seen.recovered {
		return nil
	}
	settled := intent.without(seen.resolved)
	switch {
	case seen.recovered && seen.owned != nil && seen.rival == "":
		// Taken: this object owns it from now on.
		settled.Created = seen.owned.ID
		if settled.Released == seen.owned.ID {
			settled.Released = ""
		}
	case seen.recovered && seen.owned != nil && settled.Created != seen.owned.ID:
		// Made by this object, but another owns it now: a fact worth
		// keeping (no other object's attempt may claim it), not ownership.
		settled.Released = seen.owned.ID
	}
	if err := patchMetadata(ctx, r.Client, obj, func() { setIntent(obj, settled) }); err != nil {
		return transient(voicev1alpha1.ReasonProgressing, err)
	}
	return nil
}

// deleteStrays deletes configurations that an earlier create attempt of
// this object made (proven by the marker) and that it does not own: one
// object asked for one configuration.
func (r *ClientConfigurationReconciler) deleteStrays(ctx context.Context, obj *voicev1alpha1.ClientConfiguration, api VoiceAPI, strays []voice.Configuration) error {
	for _, stray := range strays {
		if err := admit(api, obj, "deleting remote configuration "+stray.ID); err != nil {
			return err
		}
		if err := api.Delete(ctx, stray.ID); err != nil && !voice.IsNotFound(err) {
			return remoteError("deleting remote configuration "+stray.ID+", a second one an interrupted create made", err)
		}
		r.remote.deleted(api, stray.ID)
		r.claims.gone(api.AccountSID(), stray.ID)
		r.event(ctx, obj, corev1.EventTypeNormal, eventDeleted, "Delete",
			"Deleted remote configuration %s (unique name %q): an earlier create of this object made it after its answer was lost, and the object manages another", stray.ID, stray.UniqueName)
	}
	return nil
}

// unconfirmed stalls on a "not found" that the credentials cannot vouch
// for: what is not found through them may exist in the account.
func (r *ClientConfigurationReconciler) unconfirmed(obj *voicev1alpha1.ClientConfiguration, what string) error {
	return stalled(voicev1alpha1.ReasonAccountMismatch, fmt.Errorf(
		"%s is not found through the credentials in Secret %q, which have never been seen to act on the account they name: they may be another account's, so nothing is concluded. Fix the Secret (or set spec.deletionPolicy: Orphan to let a deleted object go)",
		what, obj.Spec.CredentialsRef.Name))
}

// deleteOwned DELETEs the configuration this object owns and releases the
// finalizer; a refusal explains itself (IsDefault).
func (r *ClientConfigurationReconciler) deleteOwned(ctx context.Context, obj *voicev1alpha1.ClientConfiguration, api VoiceAPI, id string) error {
	if r.remote.isGone(api, id) {
		// Deleted by an earlier pass whose release of the finalizer
		// failed (a conflict, say): the Event was recorded then.
		return r.releaseFinalizer(ctx, obj)
	}
	if err := admit(api, obj, "deleting remote configuration "+id); err != nil {
		return err
	}
	err := api.Delete(ctx, id)
	if cls := voice.ClassOf(err); cls == voice.ClassInvalid || cls == voice.ClassConflict {
		err = r.deleteRefused(ctx, api, id, err)
	}
	note := "Deleted remote configuration %s"
	if voice.IsNotFound(err) {
		// Gone already, unless the whole API answers 404 (an account whose
		// access to the beta ended) or the credentials are another
		// account's: then nothing is known, and the finalizer stays.
		if lerr := collectionReadable(ctx, api); lerr != nil {
			return remoteError("confirming that remote configuration "+id+" is gone", lerr)
		}
		if !api.Verified() {
			return r.unconfirmed(obj, "remote configuration "+id)
		}
		note = "Remote configuration %s was already gone"
	}
	if err != nil && !voice.IsNotFound(err) {
		return remoteError("deleting remote configuration "+id, err)
	}
	r.remote.deleted(api, id)
	r.claims.gone(api.AccountSID(), id)
	r.event(ctx, obj, corev1.EventTypeNormal, eventDeleted, "Delete", note, id)
	return r.releaseFinalizer(ctx, obj)
}

// release lets a deleted object go without deleting anything, and says
// what it left.
func (r *ClientConfigurationReconciler) release(ctx context.Context, obj *voicev1alpha1.ClientConfiguration, seen observation) error {
	switch {
	case (seen.orphan || seen.observeOnly) && obj.Status.ID != "":
		r.event(ctx, obj, corev1.EventTypeNormal, eventOrphaned, "Orphan", "Left remote configuration %s in place (deletionPolicy %s, managementPolicy %s)",
			obj.Status.ID, obj.Spec.DeletionPolicy, obj.Spec.ManagementPolicy)
	case seen.rival != "" && seen.owned != nil:
		r.event(ctx, obj, corev1.EventTypeWarning, eventLeft, "Delete",
			"Left remote configuration %s in place: ClientConfiguration %s manages it", seen.owned.ID, seen.rival)
	}
	return r.releaseFinalizer(ctx, obj)
}
