package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/events"
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
	EventCreated   = "Created"
	EventUpdated   = "Updated"
	EventAdopted   = "Adopted"
	EventRecreated = "Recreated"
	EventDeleted   = "Deleted"
	EventOrphaned  = "Orphaned"
)

// ClientConfigurationReconciler keeps one Twilio Voice v2 Client
// Configuration equal to each ClientConfiguration object.
type ClientConfigurationReconciler struct {
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
	// MaxConcurrentReconciles bounds parallel reconciles (default 1).
	MaxConcurrentReconciles int
	// Metrics records drift corrections and condition reasons; may be nil.
	Metrics *Metrics
	// Remote, when set, observes remote configurations through one paged
	// List per account per ResyncPeriod instead of one GET per object
	// (--observe=list); it then also drives the periodic resync.
	Remote *RemoteCache
}

// +kubebuilder:rbac:groups=voice.twilio-operator.io,resources=clientconfigurations,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=voice.twilio-operator.io,resources=clientconfigurations/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=voice.twilio-operator.io,resources=clientconfigurations/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile only dispatches: fetch, then delete or normal, then one status
// patch if anything changed.
func (r *ClientConfigurationReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	obj := &voicev1alpha1.ClientConfiguration{}
	if err := r.Client.Get(ctx, req.NamespacedName, obj); err != nil {
		r.Metrics.forget(kindClientConfiguration, req.NamespacedName)
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if isPaused(obj) {
		ctrl.LoggerFrom(ctx).V(1).Info("Skipped paused object")
		return ctrl.Result{}, nil
	}
	oldStatus := obj.Status.DeepCopy()

	var err error
	if !obj.DeletionTimestamp.IsZero() {
		err = r.reconcileDelete(ctx, obj)
	} else {
		err = r.reconcileNormal(ctx, obj)
	}

	r.summarise(obj, oldStatus, err)
	before := obj.DeepCopy()
	before.Status = *oldStatus
	changed := !equality.Semantic.DeepEqual(obj.Status, *oldStatus)
	if perr := patchStatus(ctx, r.Client, obj, before, changed, touchLastSync(obj, &obj.Status.LastSyncTime, err)); perr != nil {
		return ctrl.Result{}, errors.Join(err, perr)
	}
	return result(err, r.requeueAfter())
}

// requeueAfter is when a reconciled object is looked at again: each resync
// period, unless the RemoteCache resyncs, which enqueues only what changed.
func (r *ClientConfigurationReconciler) requeueAfter() time.Duration {
	if r.Remote != nil {
		return 0
	}
	return wait.Jitter(r.ResyncPeriod, 0.1)
}

// reconcileNormal brings the remote configuration to the spec.
func (r *ClientConfigurationReconciler) reconcileNormal(ctx context.Context, obj *voicev1alpha1.ClientConfiguration) error {
	api, err := r.connector().connect(ctx, obj.Namespace, obj.Spec.CredentialsRef)
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
	// The common first reconcile: nothing to look for, so no remote read. The
	// finalizer and the create-intent marker go in one write before the POST.
	if obj.Status.ID == "" && readIntent(obj) == nil && !wantsAdoption(obj) {
		return r.create(ctx, obj, api, want)
	}
	// Finalizer first, to avoid the race between init and delete.
	if err := patchMetadata(ctx, r.Client, obj, func() { controllerutil.AddFinalizer(obj, voicev1alpha1.Finalizer) }); err != nil {
		return transient(voicev1alpha1.ReasonProgressing, err)
	}
	remote, err := r.observe(ctx, obj, api)
	if err != nil {
		return err
	}
	if remote == nil {
		return r.create(ctx, obj, api, want)
	}
	return r.update(ctx, obj, api, remote, want)
}

// observe finds the remote configuration this object manages and never
// changes the remote side. It returns nil (and no error) when there is none:
// by status.id when known; otherwise the one an interrupted create of ours
// made (create-intent marker), or, with the adopt annotation, the one that
// has the spec's unique name.
func (r *ClientConfigurationReconciler) observe(ctx context.Context, obj *voicev1alpha1.ClientConfiguration, api VoiceAPI) (*voice.Configuration, error) {
	if id := obj.Status.ID; id != "" {
		remote, err := r.Remote.get(ctx, api, id, resyncRequested(obj))
		if voice.IsNotFound(err) {
			r.event(obj, corev1.EventTypeWarning, EventRecreated, "Recreate",
				"Remote configuration %s was deleted outside Kubernetes; creating it again", id)
			obj.Status.ID, obj.Status.Remote = "", nil
			return nil, nil
		}
		return remote, remoteError("reading remote configuration "+id, err)
	}
	if intent := readIntent(obj); intent != nil {
		found, err := api.FindByUniqueName(ctx, intent.UniqueName)
		if voice.IsNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, remoteError(fmt.Sprintf("looking up %q after an interrupted create", intent.UniqueName), err)
		}
		if intent.covers(api.AccountSID(), found) {
			r.event(obj, corev1.EventTypeNormal, EventAdopted, "Adopt",
				"Found remote configuration %s that an interrupted create made; managing it", found.ID)
			return found, nil
		}
		if !wantsAdoption(obj) {
			return nil, r.alreadyExists(ctx, obj, found)
		}
	}
	if wantsAdoption(obj) {
		found, err := api.FindByUniqueName(ctx, obj.Spec.UniqueName)
		if voice.IsNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, remoteError(fmt.Sprintf("looking up %q to adopt it", obj.Spec.UniqueName), err)
		}
		r.event(obj, corev1.EventTypeNormal, EventAdopted, "Adopt",
			"Adopted existing remote configuration %s (annotation %s)", found.ID, voicev1alpha1.AnnotationAdopt)
		return found, nil
	}
	return nil, nil
}

// create POSTs the spec, exactly once. The create-intent marker is persisted
// first; what a failed POST means is then decided by looking the name up.
func (r *ClientConfigurationReconciler) create(ctx context.Context, obj *voicev1alpha1.ClientConfiguration, api VoiceAPI, want voice.ConfigurationInput) error {
	recreating := obj.Status.AccountSID != ""
	err := patchMetadata(ctx, r.Client, obj, func() {
		controllerutil.AddFinalizer(obj, voicev1alpha1.Finalizer)
		if intent := readIntent(obj); intent == nil || intent.Account != api.AccountSID() || intent.UniqueName != obj.Spec.UniqueName {
			setIntent(obj, createIntent{Account: api.AccountSID(), UniqueName: obj.Spec.UniqueName, At: time.Now().UTC().Truncate(time.Second)})
		}
	})
	if err != nil {
		return transient(voicev1alpha1.ReasonProgressing, err)
	}

	created, err := api.Create(ctx, want)
	switch {
	case err == nil:
		r.Remote.wrote(api, created)
		r.record(obj, api, created, nil)
		if recreating {
			r.event(obj, corev1.EventTypeNormal, EventCreated, "Create", "Created remote configuration %s again", created.ID)
		} else {
			r.event(obj, corev1.EventTypeNormal, EventCreated, "Create", "Created remote configuration %s", created.ID)
		}
		return nil
	case voice.IsAmbiguous(err):
		// It may have been applied. The marker stays, so the next attempt
		// looks the name up and adopts what it finds instead of creating twice.
		return transient(voicev1alpha1.ReasonRemoteUnavailable,
			fmt.Errorf("creating remote configuration %q: outcome unknown, will look the name up before trying again: %w", obj.Spec.UniqueName, err))
	}
	// The POST was refused, so it created nothing, and the marker must not
	// later vouch for a configuration someone else creates with this name.
	if cerr := patchMetadata(ctx, r.Client, obj, func() { clearIntent(obj) }); cerr != nil {
		return transient(voicev1alpha1.ReasonProgressing, cerr)
	}
	switch voice.ClassOf(err) {
	case voice.ClassUnauthorized, voice.ClassThrottled, voice.ClassUnavailable, voice.ClassMalformed:
		return remoteError("creating remote configuration", err)
	}
	// Any other refusal may mean the name is taken (the API does not document
	// which status a duplicate gets): look before concluding.
	found, ferr := api.FindByUniqueName(ctx, obj.Spec.UniqueName)
	switch {
	case ferr == nil && wantsAdoption(obj):
		r.event(obj, corev1.EventTypeNormal, EventAdopted, "Adopt",
			"Adopted existing remote configuration %s (annotation %s)", found.ID, voicev1alpha1.AnnotationAdopt)
		return r.update(ctx, obj, api, found, want)
	case ferr == nil:
		return r.alreadyExists(ctx, obj, found)
	case voice.IsNotFound(ferr) && voice.ClassOf(err) == voice.ClassConflict:
		// A conflict for a name nobody has: a race with a delete. Retry.
		return transient(voicev1alpha1.ReasonRemoteUnavailable, fmt.Errorf("creating remote configuration: %w", err))
	case voice.IsNotFound(ferr):
		return remoteError("creating remote configuration", err)
	default:
		return remoteError(fmt.Sprintf("looking up %q after a refused create", obj.Spec.UniqueName), ferr)
	}
}

// alreadyExists reports that the unique name belongs to a configuration this
// object did not create. It is terminal until the spec or the adopt
// annotation changes; the marker is dropped so it can never vouch for it.
func (r *ClientConfigurationReconciler) alreadyExists(ctx context.Context, obj *voicev1alpha1.ClientConfiguration, found *voice.Configuration) error {
	if err := patchMetadata(ctx, r.Client, obj, func() { clearIntent(obj) }); err != nil {
		return transient(voicev1alpha1.ReasonProgressing, err)
	}
	return stalled(voicev1alpha1.ReasonAlreadyExists, fmt.Errorf(
		"unique name %q is already used by remote configuration %s, which this object did not create; choose another uniqueName, or set the annotation %s: \"true\" to manage that configuration",
		found.UniqueName, found.ID, voicev1alpha1.AnnotationAdopt))
}

// update records what was observed and, if it differs from the spec in any
// field we own, replaces the remote configuration with one full PUT.
func (r *ClientConfigurationReconciler) update(ctx context.Context, obj *voicev1alpha1.ClientConfiguration, api VoiceAPI, remote *voice.Configuration, want voice.ConfigurationInput) error {
	fields := drift(want, remote)
	r.record(obj, api, remote, fields)
	if len(fields) == 0 {
		r.Remote.verified(api, remote)
		return nil
	}
	source := sourceSpec
	if obj.Status.ObservedGeneration == obj.Generation {
		source = sourceRemote
	}
	updated, err := api.Update(ctx, remote.ID, want)
	if err != nil {
		return remoteError("updating remote configuration "+remote.ID, err)
	}
	r.Remote.wrote(api, updated)
	r.record(obj, api, updated, nil)
	r.Metrics.driftCorrected(kindClientConfiguration, source)
	r.event(obj, corev1.EventTypeNormal, EventUpdated, "Update",
		"Updated remote configuration %s (%s changed: %s)", remote.ID, source, strings.Join(fields, ", "))
	return nil
}

// observeOnly reads the remote configuration, by id or by unique name, and
// reports it and its drift without ever writing to it.
func (r *ClientConfigurationReconciler) observeOnly(ctx context.Context, obj *voicev1alpha1.ClientConfiguration, api VoiceAPI, want voice.ConfigurationInput) error {
	var remote *voice.Configuration
	var err error
	if obj.Status.ID != "" {
		remote, err = r.Remote.get(ctx, api, obj.Status.ID, resyncRequested(obj))
	}
	if obj.Status.ID == "" || voice.IsNotFound(err) {
		remote, err = api.FindByUniqueName(ctx, obj.Spec.UniqueName)
	}
	if voice.IsNotFound(err) {
		obj.Status.ID, obj.Status.Remote = "", nil
		return &stepError{reason: voicev1alpha1.ReasonNotFound, class: classWaiting, after: r.ResyncPeriod, err: fmt.Errorf(
			"no remote configuration has unique name %q; managementPolicy is ObserveOnly, so it is not created", obj.Spec.UniqueName)}
	}
	if err != nil {
		return remoteError("reading remote configuration", err)
	}
	r.Remote.verified(api, remote)
	r.record(obj, api, remote, drift(want, remote))
	return nil
}

// reconcileDelete removes the remote configuration (policy Delete) or leaves
// it (Orphan, ObserveOnly), and only then releases the finalizer.
func (r *ClientConfigurationReconciler) reconcileDelete(ctx context.Context, obj *voicev1alpha1.ClientConfiguration) error {
	if !controllerutil.ContainsFinalizer(obj, voicev1alpha1.Finalizer) {
		return nil
	}
	nothingToDelete := obj.Status.ID == "" && readIntent(obj) == nil
	if obj.Spec.DeletionPolicy == voicev1alpha1.DeletionPolicyOrphan || obj.Spec.ManagementPolicy == voicev1alpha1.ManagementPolicyObserveOnly || nothingToDelete {
		if obj.Status.ID != "" {
			r.event(obj, corev1.EventTypeNormal, EventOrphaned, "Orphan", "Left remote configuration %s in place (deletionPolicy %s, managementPolicy %s)",
				obj.Status.ID, obj.Spec.DeletionPolicy, obj.Spec.ManagementPolicy)
		}
		return r.releaseFinalizer(ctx, obj)
	}

	api, err := r.connector().connect(ctx, obj.Namespace, obj.Spec.CredentialsRef)
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
		remote, err := r.observe(ctx, obj, api)
		if err != nil {
			return err
		}
		if remote == nil {
			return r.releaseFinalizer(ctx, obj)
		}
		id = remote.ID
	}
	err = api.Delete(ctx, id)
	switch {
	case err == nil, voice.IsNotFound(err):
		r.Remote.deleted(api, id)
		r.event(obj, corev1.EventTypeNormal, EventDeleted, "Delete", "Deleted remote configuration %s", id)
	case voice.ClassOf(err) == voice.ClassInvalid || voice.ClassOf(err) == voice.ClassConflict:
		return stalled(voicev1alpha1.ReasonDeletionFailed, fmt.Errorf(
			"deleting remote configuration %s was refused; the finalizer stays until it is deleted, or set spec.deletionPolicy: Orphan: %w", id, err))
	default:
		return remoteError("deleting remote configuration "+id, err)
	}
	return r.releaseFinalizer(ctx, obj)
}

func (r *ClientConfigurationReconciler) releaseFinalizer(ctx context.Context, obj *voicev1alpha1.ClientConfiguration) error {
	if err := patchMetadata(ctx, r.Client, obj, func() { controllerutil.RemoveFinalizer(obj, voicev1alpha1.Finalizer) }); err != nil {
		return transient(voicev1alpha1.ReasonProgressing, err)
	}
	return nil
}

// record stores what the remote side holds (its id, account and fields, a
// password redacted) and whether it differs from the spec (drifted fields).
func (r *ClientConfigurationReconciler) record(obj *voicev1alpha1.ClientConfiguration, api VoiceAPI, remote *voice.Configuration, drifted []string) {
	obj.Status.ID = remote.ID
	obj.Status.AccountSID = api.AccountSID()
	state := remoteState(remote)
	obj.Status.Remote = &state
	setInSync(&obj.Status.Conditions, obj.Generation, drifted)
}

// remoteState is a remote configuration as status records it.
func remoteState(remote *voice.Configuration) voicev1alpha1.RemoteConfiguration {
	return voicev1alpha1.RemoteConfiguration{
		UniqueName:             remote.UniqueName,
		Description:            deref(remote.Description),
		CallNotificationURL:    redactURL(remote.CallNotification.URL),
		CallNotificationMethod: remote.CallNotification.Method,
	}
}

// resyncRequested reports whether the reconcile-requested-at annotation
// holds a value not handled yet: then the remote side is read afresh.
func resyncRequested(obj *voicev1alpha1.ClientConfiguration) bool {
	value, ok := obj.Annotations[voicev1alpha1.AnnotationReconcileRequestedAt]
	return ok && value != obj.Status.LastHandledReconcileAt
}

// summarise writes the conditions, observedGeneration and, for a new
// failure, a Warning Event.
func (r *ClientConfigurationReconciler) summarise(obj *voicev1alpha1.ClientConfiguration, old *voicev1alpha1.ClientConfigurationStatus, err error) {
	summarise(r.Recorder, r.Metrics, kindClientConfiguration, obj, commonStatus{
		conditions:         &obj.Status.Conditions,
		observedGeneration: &obj.Status.ObservedGeneration,
		lastHandled:        &obj.Status.LastHandledReconcileAt,
	}, old.Conditions, err, r.readyMessage(obj))
}

func (r *ClientConfigurationReconciler) readyMessage(obj *voicev1alpha1.ClientConfiguration) string {
	if obj.Spec.ManagementPolicy == voicev1alpha1.ManagementPolicyObserveOnly {
		return fmt.Sprintf("Observing remote configuration %s (managementPolicy ObserveOnly: never written)", obj.Status.ID)
	}
	return fmt.Sprintf("Remote configuration %s matches the spec", obj.Status.ID)
}

func (r *ClientConfigurationReconciler) event(obj *voicev1alpha1.ClientConfiguration, eventType, reason, action, note string, args ...any) {
	r.Recorder.Eventf(obj, nil, eventType, reason, action, note, args...)
}

func (r *ClientConfigurationReconciler) connector() connector {
	return connector{secrets: r.APIReader, clients: r.Clients}
}

// SetupWithManager registers the controller: ClientConfigurations, and the
// Secrets they name through a metadata-only watch (Secret contents are never
// cached).
func (r *ClientConfigurationReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(ctx, &voicev1alpha1.ClientConfiguration{}, credentialsIndex, func(o client.Object) []string {
		return secretsOf(o.(*voicev1alpha1.ClientConfiguration))
	}); err != nil {
		return fmt.Errorf("indexing ClientConfigurations by Secret: %w", err)
	}
	b := ctrl.NewControllerManagedBy(mgr).
		For(&voicev1alpha1.ClientConfiguration{}, builder.WithPredicates(reconcileTriggers())).
		WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(dependentsOfSecret(mgr.GetClient(), &voicev1alpha1.ClientConfigurationList{}))).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(r.MaxConcurrentReconciles, 1)}).
		Named("clientconfiguration")
	if r.Remote != nil {
		if err := mgr.Add(r.Remote); err != nil {
			return fmt.Errorf("adding the remote cache: %w", err)
		}
		b = b.WatchesRawSource(r.Remote.Source())
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
