package controllers

import (
	"context"
	"fmt"
	"slices"
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

	remote  *remoteView
	holders *holderIndex
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
// what changed.
func (r *ClientConfigurationReconciler) requeueAfter() time.Duration {
	if r.Observe == ObserveList {
		return 0
	}
	return wait.Jitter(r.ResyncPeriod, 0.1)
}

// reconcileNormal brings the remote configuration to the spec: observe what
// there is, then one step decides and acts.
func (r *ClientConfigurationReconciler) reconcileNormal(ctx context.Context, obj *voicev1alpha1.ClientConfiguration) error {
	api, err := r.connector().forObject(ctx, obj)
	if err != nil {
		return err
	}
	if err := sameAccount(obj, api.AccountSID()); err != nil {
		return err
	}
	userinfo, err := r.connector().webhookAuth(ctx, obj)
	if err != nil {
		return err
	}
	want := desiredInput(obj, userinfo)
	if obj.Spec.ManagementPolicy == voicev1alpha1.ManagementPolicyObserveOnly {
		return r.observeOnly(ctx, obj, api, want)
	}
	seen, err := r.observe(ctx, obj, api, want)
	if err != nil {
		return err
	}
	return r.act(ctx, obj, api, want, seen)
}

// observation is what observe found; it changes nothing, remote or local.
type observation struct {
	// owned is the configuration this object owns: by status.id, or proven
	// by the create-intent marker after an interrupted create (recovered).
	owned     *voice.Configuration
	recovered bool
	// drifted lists the fields in which owned differs from the spec.
	drifted []string
	// vanished is the status.id that answered 404: deleted outside
	// Kubernetes.
	vanished string
	// holder is the configuration that has the spec's unique name when this
	// object owns none: someone else's, as far as this object can prove.
	holder *voice.Configuration
	// freeAt is when the List started that showed the name free (holder
	// nil and owned nil).
	freeAt time.Time
	// rival names another object that already owns owned, or the holder
	// this object would adopt.
	rival string
}

// observe reads the remote side and says what this object owns there, or
// who holds its unique name. It never writes, remote or local.
func (r *ClientConfigurationReconciler) observe(ctx context.Context, obj *voicev1alpha1.ClientConfiguration, api VoiceAPI, want voice.ConfigurationInput) (observation, error) {
	var seen observation
	intent := readIntent(obj)
	if id := obj.Status.ID; id != "" {
		cfg, err := r.remote.get(ctx, api, id, resyncRequested(obj))
		switch {
		case err == nil:
			seen.owned = cfg
		case voice.IsNotFound(err):
			seen.vanished = id
			if intent != nil && intent.Replaces != id {
				intent = nil // an earlier create's marker: it vouches for nothing now
			}
		default:
			return seen, remoteError("reading remote configuration "+id, err)
		}
	}
	if seen.owned == nil && intent != nil {
		// An attempt of ours may have created it: look with a List that
		// started after the attempt.
		found, _, err := r.remote.holderOf(ctx, api, intent.UniqueName, startedAfter(intent.At.Add(clockSkew)))
		if err != nil {
			return seen, remoteError(fmt.Sprintf("looking up %q after an interrupted create", intent.UniqueName), err)
		}
		if found != nil && intent.proves(api.AccountSID(), found) {
			seen.owned, seen.recovered = found, true
		}
	}
	if seen.owned == nil {
		since := nameCheck
		if seen.vanished != "" {
			// Someone changed the account behind our back: a List from
			// before that proves nothing about the name.
			since = startedAfter(r.Clock.Now())
		}
		holder, listed, err := r.remote.holderOf(ctx, api, want.UniqueName, since)
		if err != nil {
			return seen, remoteError(fmt.Sprintf("checking that unique name %q is free", want.UniqueName), err)
		}
		seen.holder, seen.freeAt = holder, listed
	}
	if held := cmpOr(seen.owned, seen.holder); held != nil && (seen.owned != nil || wantsAdoption(obj)) {
		rival, err := r.rivalFor(ctx, obj, api, held.ID)
		if err != nil {
			return seen, err
		}
		seen.rival = rival
	}
	if seen.owned != nil {
		seen.drifted = drift(want, seen.owned)
	}
	return seen, nil
}

// act is the one place that decides what to do about an observation.
func (r *ClientConfigurationReconciler) act(ctx context.Context, obj *voicev1alpha1.ClientConfiguration, api VoiceAPI, want voice.ConfigurationInput, seen observation) error {
	switch {
	case seen.rival != "":
		return r.conflict(ctx, obj, seen.rival, cmpOr(seen.owned, seen.holder))
	case seen.owned != nil:
		if seen.recovered {
			r.event(ctx, obj, corev1.EventTypeNormal, eventRecovered, "Recover",
				"Found remote configuration %s that an interrupted create of this object made; managing it", seen.owned.ID)
		}
		return r.manage(ctx, obj, api, seen.owned, want, seen.drifted)
	case seen.holder != nil && wantsAdoption(obj):
		r.event(ctx, obj, corev1.EventTypeNormal, eventAdopted, "Adopt",
			"Adopted existing remote configuration %s (annotation %s)", seen.holder.ID, voicev1alpha1.AnnotationAdopt)
		return r.manage(ctx, obj, api, seen.holder, want, drift(want, seen.holder))
	case seen.holder != nil:
		return r.alreadyExists(ctx, obj, seen.holder)
	default:
		return r.create(ctx, obj, api, want, seen)
	}
}

// manage takes cfg as this object's configuration and, if it differs from
// the spec in any field we own, replaces it with one full PUT.
func (r *ClientConfigurationReconciler) manage(ctx context.Context, obj *voicev1alpha1.ClientConfiguration, api VoiceAPI, cfg *voice.Configuration, want voice.ConfigurationInput, drifted []string) error {
	if rival, ok := r.remote.claim(api, obj, cfg.ID); !ok {
		// Taken by another object of this process a moment ago, before its
		// status reached the cache.
		return r.conflict(ctx, obj, rival.String(), cfg)
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
	if slices.Contains(drifted, "uniqueName") && readIntent(obj) != nil {
		// The marker names the unique name of the create; after a rename it
		// would only mislead whoever reads it.
		if err := patchMetadata(ctx, r.Client, obj, func() { clearIntent(obj) }); err != nil {
			return transient(voicev1alpha1.ReasonProgressing, err)
		}
	}
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

// create POSTs the spec, exactly once per marker. The marker, written in
// the same patch as the finalizer before the POST, records the List that
// showed the name free and a digest of what is sent: after a lost answer
// or a crash, it is what proves that a configuration found under the name
// is this object's (ownership.go).
func (r *ClientConfigurationReconciler) create(ctx context.Context, obj *voicev1alpha1.ClientConfiguration, api VoiceAPI, want voice.ConfigurationInput, seen observation) error {
	if !r.remote.reserve(api, obj, want.UniqueName) {
		return transient(voicev1alpha1.ReasonProgressing, fmt.Errorf("another object is creating unique name %q in account %s right now", want.UniqueName, api.AccountSID()))
	}
	defer r.remote.release(api, obj, want.UniqueName)
	// The turn comes before the marker: a create that must wait writes
	// nothing, and comes back when its turn is due.
	if err := admit(api, obj, fmt.Sprintf("creating remote configuration %q", want.UniqueName)); err != nil {
		return err
	}
	intent := newIntent(r.Clock.Now(), api.AccountSID(), want, seen.freeAt, seen.vanished)
	if err := addFinalizer(ctx, r.Client, obj, func() { setIntent(obj, intent) }); err != nil {
		return err
	}

	created, err := api.Create(ctx, want)
	switch {
	case err == nil:
		r.remote.wrote(api, created)
		r.remote.claim(api, obj, created.ID) // new: nobody else can hold it
		r.remote.verified(api, obj, created)
		r.record(obj, api, created, nil)
		if seen.vanished != "" {
			r.event(ctx, obj, corev1.EventTypeWarning, eventRecreated, "Recreate",
				"Remote configuration %s was deleted outside Kubernetes; created %s in its place", seen.vanished, created.ID)
		} else {
			r.event(ctx, obj, corev1.EventTypeNormal, eventCreated, "Create", "Created remote configuration %s", created.ID)
		}
		return nil
	case voice.ClassOf(err) == voice.ClassAccountMismatch:
		return r.strayCreate(ctx, obj, api, created, err)
	case voice.IsAmbiguous(err):
		// It may have been applied. The marker stays, so the next attempt
		// looks the name up and proves ownership before creating again.
		return transient(voicev1alpha1.ReasonRemoteUnavailable,
			fmt.Errorf("creating remote configuration %q: outcome unknown, will look for it before trying again: %w", want.UniqueName, err))
	}
	// The POST was refused, so it created nothing, and the marker must not
	// later vouch for a configuration someone else creates with this name.
	if cerr := patchMetadata(ctx, r.Client, obj, func() { clearIntent(obj) }); cerr != nil {
		return transient(voicev1alpha1.ReasonProgressing, cerr)
	}
	switch voice.ClassOf(err) {
	case voice.ClassInvalid, voice.ClassConflict:
		// The reference does not say how a taken name is refused: look.
		holder, _, lerr := r.remote.holderOf(ctx, api, want.UniqueName, startedAfter(r.Clock.Now()))
		switch {
		case lerr != nil:
			return remoteError(fmt.Sprintf("looking up %q after a refused create", want.UniqueName), lerr)
		case holder != nil:
			return r.alreadyExists(ctx, obj, holder) // taken between the check and the POST
		case voice.ClassOf(err) == voice.ClassConflict:
			// A conflict for a name nobody has: a race with a delete.
			return transient(voicev1alpha1.ReasonRemoteUnavailable, fmt.Errorf("creating remote configuration: %w", err))
		}
	}
	return remoteError("creating remote configuration", err)
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
	if cerr := patchMetadata(ctx, r.Client, obj, func() { clearIntent(obj) }); cerr != nil {
		return transient(voicev1alpha1.ReasonProgressing, cerr)
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
// object cannot prove it created. It is stalled until the spec or the adopt
// annotation changes; the marker is dropped so it can never vouch for it,
// and a vanished id is forgotten.
func (r *ClientConfigurationReconciler) alreadyExists(ctx context.Context, obj *voicev1alpha1.ClientConfiguration, holder *voice.Configuration) error {
	if err := patchMetadata(ctx, r.Client, obj, func() { clearIntent(obj) }); err != nil {
		return transient(voicev1alpha1.ReasonProgressing, err)
	}
	r.forgetRemote(obj)
	return stalled(voicev1alpha1.ReasonAlreadyExists, fmt.Errorf(
		"unique name %q is already used by remote configuration %s, which this object cannot prove it created; it will not be changed or deleted. Choose another uniqueName, or set the annotation %s: \"true\" to manage that configuration",
		holder.UniqueName, holder.ID, voicev1alpha1.AnnotationAdopt))
}

// conflict reports that another object already owns the configuration this
// one would manage. One remote configuration has one owner: the object
// that held it first keeps it, and this one writes nothing and forgets it.
func (r *ClientConfigurationReconciler) conflict(ctx context.Context, obj *voicev1alpha1.ClientConfiguration, rival string, cfg *voice.Configuration) error {
	if err := patchMetadata(ctx, r.Client, obj, func() { clearIntent(obj) }); err != nil {
		return transient(voicev1alpha1.ReasonProgressing, err)
	}
	r.forgetRemote(obj)
	return stalled(voicev1alpha1.ReasonConflict, fmt.Errorf(
		"remote configuration %s (unique name %q) is already managed by ClientConfiguration %s; a remote configuration has one owner, so this object leaves it alone. Delete one of the two objects, or give this one another uniqueName",
		cfg.ID, cfg.UniqueName, rival))
}

// forgetRemote drops the remote configuration from status: this object no
// longer owns one.
func (r *ClientConfigurationReconciler) forgetRemote(obj *voicev1alpha1.ClientConfiguration) {
	obj.Status.ID, obj.Status.Remote = "", nil
	meta.RemoveStatusCondition(&obj.Status.Conditions, voicev1alpha1.ConditionInSync)
	r.remote.forget(obj)
}

// rivalFor names another object that already owns configuration id in
// the account ("namespace/name"), or returns "". An object acquiring a
// configuration yields to any other holder; of two objects that both hold
// it (a state an earlier version could leave), the older keeps it.
func (r *ClientConfigurationReconciler) rivalFor(ctx context.Context, obj *voicev1alpha1.ClientConfiguration, api VoiceAPI, id string) (string, error) {
	holders, err := r.holders.holders(ctx, api.AccountSID(), id)
	if err != nil {
		return "", transient(voicev1alpha1.ReasonProgressing, fmt.Errorf("looking up the owners of remote configuration %s: %w", id, err))
	}
	holding := obj.Status.ID == id && obj.Status.AccountSID == api.AccountSID()
	for _, other := range holders {
		if other.uid != obj.UID && (!holding || other.older(obj)) {
			return other.key.String(), nil
		}
	}
	if owner, ok := r.remote.ownerOf(api, id); ok && owner.uid != obj.UID {
		// Claimed in this process a moment ago, perhaps before the claimant's
		// status reached the cache; unless the claimant is gone since.
		other := &voicev1alpha1.ClientConfiguration{}
		err := r.Client.Get(ctx, owner.key, other)
		switch {
		case err == nil && other.UID == owner.uid:
			return owner.key.String(), nil
		case client.IgnoreNotFound(err) != nil:
			return "", transient(voicev1alpha1.ReasonProgressing, fmt.Errorf("reading ClientConfiguration %s: %w", owner.key, err))
		}
		r.remote.disown(api, id, owner.uid)
	}
	return "", nil
}

// observeOnly reads the remote configuration, by id or by unique name, and
// reports it and its drift without ever writing to it.
func (r *ClientConfigurationReconciler) observeOnly(ctx context.Context, obj *voicev1alpha1.ClientConfiguration, api VoiceAPI, want voice.ConfigurationInput) error {
	var found *voice.Configuration
	var err error
	if obj.Status.ID != "" {
		found, err = r.remote.get(ctx, api, obj.Status.ID, resyncRequested(obj))
	}
	if obj.Status.ID == "" || voice.IsNotFound(err) {
		found, _, err = r.remote.holderOf(ctx, api, obj.Spec.UniqueName, startedAfter(r.Clock.Now().Add(-2*r.ResyncPeriod)))
	}
	if err != nil {
		return remoteError("reading remote configuration", err)
	}
	if found == nil {
		obj.Status.ID, obj.Status.Remote = "", nil
		return &stepError{reason: voicev1alpha1.ReasonNotFound, class: classWaiting, user: true, after: r.ResyncPeriod, err: fmt.Errorf(
			"no remote configuration has unique name %q; managementPolicy is ObserveOnly, so it is not created", obj.Spec.UniqueName)}
	}
	r.remote.verified(api, obj, found)
	r.record(obj, api, found, drift(want, found))
	return nil
}

// reconcileDelete removes the remote configuration (policy Delete) or leaves
// it (Orphan, ObserveOnly), and only then releases the finalizer. It never
// deletes a configuration this object cannot prove it owns.
func (r *ClientConfigurationReconciler) reconcileDelete(ctx context.Context, obj *voicev1alpha1.ClientConfiguration) error {
	if !controllerutil.ContainsFinalizer(obj, voicev1alpha1.Finalizer) {
		return nil
	}
	intent := readIntent(obj)
	if obj.Spec.DeletionPolicy == voicev1alpha1.DeletionPolicyOrphan || obj.Spec.ManagementPolicy == voicev1alpha1.ManagementPolicyObserveOnly ||
		(obj.Status.ID == "" && intent == nil) {
		if obj.Status.ID != "" {
			r.event(ctx, obj, corev1.EventTypeNormal, eventOrphaned, "Orphan", "Left remote configuration %s in place (deletionPolicy %s, managementPolicy %s)",
				obj.Status.ID, obj.Spec.DeletionPolicy, obj.Spec.ManagementPolicy)
		}
		return r.releaseFinalizer(ctx, obj)
	}

	api, err := r.connector().forDelete(ctx, obj)
	if err != nil {
		step := asStep(err)
		step.err = fmt.Errorf("cannot delete the remote configuration until the credentials are back (or set spec.deletionPolicy: Orphan to let this object go): %w", step.err)
		return step
	}
	if err := sameAccount(obj, api.AccountSID()); err != nil {
		return err
	}
	id := obj.Status.ID
	if id == "" {
		// An interrupted create may have made one: find it, or nothing leaks.
		found, _, err := r.remote.holderOf(ctx, api, intent.UniqueName, startedAfter(intent.At.Add(clockSkew)))
		if err != nil {
			return remoteError(fmt.Sprintf("looking up %q after an interrupted create", intent.UniqueName), err)
		}
		if found == nil || !intent.proves(api.AccountSID(), found) {
			if found != nil {
				r.event(ctx, obj, corev1.EventTypeNormal, eventLeft, "Delete",
					"Left remote configuration %s in place: this object cannot prove it created it", found.ID)
			}
			return r.releaseFinalizer(ctx, obj)
		}
		id = found.ID
	}
	if rival, err := r.rivalFor(ctx, obj, api, id); err != nil {
		return err
	} else if rival != "" {
		r.event(ctx, obj, corev1.EventTypeWarning, eventLeft, "Delete",
			"Left remote configuration %s in place: ClientConfiguration %s manages it", id, rival)
		return r.releaseFinalizer(ctx, obj)
	}
	if r.remote.isGone(api, id) {
		// Deleted by an earlier pass whose release of the finalizer
		// failed (a conflict, say): the Event was recorded then.
		return r.releaseFinalizer(ctx, obj)
	}
	if err := admit(api, obj, "deleting remote configuration "+id); err != nil {
		return err
	}
	err = api.Delete(ctx, id)
	if cls := voice.ClassOf(err); cls == voice.ClassInvalid || cls == voice.ClassConflict {
		err = r.deleteRefused(ctx, api, id, err)
	}
	if voice.IsNotFound(err) {
		// Gone already, unless the whole API answers 404 (an account
		// whose access to the beta ended): then nothing is known, and the
		// finalizer stays.
		if lerr := collectionReadable(ctx, api); lerr != nil {
			return remoteError("confirming that remote configuration "+id+" is gone", lerr)
		}
	}
	switch {
	case err == nil, voice.IsNotFound(err):
		r.remote.deleted(api, id)
		r.event(ctx, obj, corev1.EventTypeNormal, eventDeleted, "Delete", "Deleted remote configuration %s", id)
		return r.releaseFinalizer(ctx, obj)
	}
	return remoteError("deleting remote configuration "+id, err)
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
		return &stepError{reason: voicev1alpha1.ReasonIsDefault, class: classWaiting, user: true, after: 5 * time.Second, err: fmt.Errorf(
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
	return nil
}

// record stores what the remote side holds (its id, account and fields, a
// password redacted) and whether it differs from the spec (drifted fields).
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
		CallNotificationURL:    redactURL(cfg.CallNotification.URL),
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
