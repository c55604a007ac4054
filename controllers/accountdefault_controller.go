package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
	"github.com/twilio-operator/voice-operator/internal/voice"
)

// Event reasons for what the AccountDefault controller did.
const (
	eventDefaultSet      = "DefaultSet"
	eventDefaultRestored = "DefaultRestored"
	eventDefaultUnset    = "DefaultUnset"
	eventDefaultLeft     = "DefaultLeft"
)

// Field indexes of AccountDefaults.
const (
	// configurationRefIndex finds the AccountDefaults that name a
	// ClientConfiguration, so a change to it reconciles them at once.
	configurationRefIndex = ".spec.configurationRef.name"
	// accountIndex finds the AccountDefaults that manage an account, to pick
	// the one owner among them.
	accountIndex = ".status.accountSid"
)

// AccountDefaultReconciler keeps one Client Configuration the default of a
// Twilio account for each AccountDefault object that owns its account.
type AccountDefaultReconciler struct {
	Deps
}

// +kubebuilder:rbac:groups=voice.twilio-operator.io,resources=accountdefaults,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=voice.twilio-operator.io,resources=accountdefaults/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=voice.twilio-operator.io,resources=accountdefaults/finalizers,verbs=update
// +kubebuilder:rbac:groups=voice.twilio-operator.io,resources=clientconfigurations,verbs=get;list;watch

// Reconcile runs the skeleton of reconcile.go for an AccountDefault.
func (r *AccountDefaultReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return reconcileKind(ctx, &r.Deps, r, req)
}

func (r *AccountDefaultReconciler) name() string { return kindAccountDefault }
func (r *AccountDefaultReconciler) newObject() *voicev1alpha1.AccountDefault {
	return &voicev1alpha1.AccountDefault{}
}
func (r *AccountDefaultReconciler) status(obj *voicev1alpha1.AccountDefault) any { return &obj.Status }
func (r *AccountDefaultReconciler) copyStatus(dst, src *voicev1alpha1.AccountDefault) {
	dst.Status = src.Status
}

// requeueAfter: the account's default is read again every resync period,
// so a default changed by hand is put back.
func (r *AccountDefaultReconciler) requeueAfter(*voicev1alpha1.AccountDefault) time.Duration {
	return wait.Jitter(r.ResyncPeriod, 0.1)
}

func (r *AccountDefaultReconciler) readyMessage(obj *voicev1alpha1.AccountDefault) string {
	// The id has a column of its own, the account one in -o wide.
	return "Is the account's default"
}

// reconcileNormal makes the target configuration the account's default.
func (r *AccountDefaultReconciler) reconcileNormal(ctx context.Context, obj *voicev1alpha1.AccountDefault) error {
	api, err := r.connector().forObject(ctx, obj)
	if err != nil {
		return err
	}
	if obj.Status.ConfigurationID != "" && obj.Status.AccountSID != api.AccountSID() {
		// Moving on silently would leave the old account's default set, by
		// nobody's object, and take over the new account's.
		return stalled(voicev1alpha1.ReasonAccountChanged, fmt.Errorf(
			"this object set the default of account %s, but Secret %q now holds credentials for account %s; "+
				"restore the Secret, or to move: set spec.deletionPolicy: Orphan, delete this object, and create it again",
			obj.Status.AccountSID, obj.Spec.CredentialsRef.Name, api.AccountSID()))
	}
	// Recorded before anything else, so that other AccountDefaults of the
	// same account can see this one when they pick the owner.
	obj.Status.AccountSID = api.AccountSID()
	if err := r.ownAccount(ctx, obj); err != nil {
		return err
	}
	if err := addFinalizer(ctx, r.Client, obj, nil); err != nil {
		return err
	}
	target, err := r.target(ctx, obj, api.AccountSID())
	switch {
	case errors.Is(err, errTargetDeleted):
		// The referenced configuration is about to be deleted remotely. An
		// API may refuse to delete the default, so let go of it first, or
		// deleting both objects together would wait on each other.
		if uerr := r.unsetIfOurs(ctx, obj, api); uerr != nil {
			return uerr
		}
		obj.Status.ConfigurationID = ""
	case err != nil && obj.Status.ConfigurationID != "":
		// Keep showing the id only while it is still the default.
		if current, derr := api.GetDefault(ctx); voice.IsNotFound(derr) || (derr == nil && current.ID != obj.Status.ConfigurationID) {
			obj.Status.ConfigurationID = ""
		}
	}
	if err != nil {
		return err
	}
	return r.ensureDefault(ctx, obj, api, target)
}

// errTargetDeleted marks a referenced ClientConfiguration whose remote
// configuration is being deleted.
var errTargetDeleted = errors.New("the referenced configuration is being deleted")

// ownAccount makes sure this object is the one that manages its account's
// default: the oldest AccountDefault of the account (by creation time, then
// namespace/name) owns it; the others report Conflict and make no remote
// call, so two objects never take turns overwriting each other.
func (r *AccountDefaultReconciler) ownAccount(ctx context.Context, obj *voicev1alpha1.AccountDefault) error {
	owner, err := r.ownerOf(ctx, obj.Status.AccountSID, obj)
	if err != nil {
		return transient(voicev1alpha1.ReasonProgressing, err)
	}
	if owner == client.ObjectKeyFromObject(obj) {
		return nil
	}
	obj.Status.ConfigurationID = ""
	return stalled(voicev1alpha1.ReasonConflict, fmt.Errorf(
		"AccountDefault %s already manages the default of account %s; an account has one default, so delete one of the two objects",
		owner, obj.Status.AccountSID))
}

// ownerOf returns the AccountDefault that owns account, counting self (which
// may not have recorded its account yet) and every live AccountDefault that
// has recorded it.
func (r *AccountDefaultReconciler) ownerOf(ctx context.Context, account string, self *voicev1alpha1.AccountDefault) (types.NamespacedName, error) {
	list := &voicev1alpha1.AccountDefaultList{}
	if err := r.Client.List(ctx, list, client.MatchingFields{accountIndex: account}); err != nil {
		return types.NamespacedName{}, fmt.Errorf("listing the AccountDefaults of account %s: %w", account, err)
	}
	owner := self
	for i := range list.Items {
		other := &list.Items[i]
		if other.DeletionTimestamp.IsZero() && older(other, owner) {
			owner = other
		}
	}
	return client.ObjectKeyFromObject(owner), nil
}

// older orders AccountDefaults by creation time, then namespace/name, so
// every reconcile of every object agrees on the owner.
func older(a, b *voicev1alpha1.AccountDefault) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return client.ObjectKeyFromObject(a).String() < client.ObjectKeyFromObject(b).String()
}

// target resolves the configuration id to make the default: the raw
// configurationId, or the status.id of the referenced ClientConfiguration
// once it is Ready in the same account.
func (r *AccountDefaultReconciler) target(ctx context.Context, obj *voicev1alpha1.AccountDefault, account string) (string, error) {
	if obj.Spec.ConfigurationRef == nil {
		return obj.Spec.ConfigurationID, nil
	}
	name := obj.Spec.ConfigurationRef.Name
	cc := &voicev1alpha1.ClientConfiguration{}
	err := r.Client.Get(ctx, types.NamespacedName{Namespace: obj.Namespace, Name: name}, cc)
	if client.IgnoreNotFound(err) != nil {
		return "", transient(voicev1alpha1.ReasonProgressing, fmt.Errorf("reading ClientConfiguration %q: %w", name, err))
	}
	switch {
	case err != nil:
		// On a fresh apply the AccountDefault may come first: progress, not
		// a Warning, until it is created.
		return "", progressing(voicev1alpha1.ReasonConfigurationNotFound, fmt.Errorf("ClientConfiguration %q does not exist in namespace %q", name, obj.Namespace))
	case !cc.DeletionTimestamp.IsZero() && cc.Spec.DeletionPolicy != voicev1alpha1.DeletionPolicyOrphan &&
		cc.Spec.ManagementPolicy != voicev1alpha1.ManagementPolicyObserveOnly:
		return "", waitingFor(voicev1alpha1.ReasonConfigurationNotFound, fmt.Errorf("ClientConfiguration %q is being deleted, and its remote configuration with it: %w", name, errTargetDeleted))
	case !cc.DeletionTimestamp.IsZero():
		return "", waitingFor(voicev1alpha1.ReasonConfigurationNotFound, fmt.Errorf("ClientConfiguration %q is being deleted", name))
	case cc.Status.ID == "":
		// The default needs only the id; while the configuration is being
		// created there is none yet: progress, not a Warning.
		return "", progressing(voicev1alpha1.ReasonConfigurationNotReady, fmt.Errorf("ClientConfiguration %q has no remote configuration yet", name))
	case cc.Status.AccountSID != account:
		return "", waitingFor(voicev1alpha1.ReasonConfigurationNotReady, fmt.Errorf(
			"ClientConfiguration %q lives in account %s, but this AccountDefault's Secret names account %s", name, cc.Status.AccountSID, account))
	}
	return cc.Status.ID, nil
}

// ensureDefault reads the account's default and sets it only when it is not
// already the target: a resync that finds it in place writes nothing.
func (r *AccountDefaultReconciler) ensureDefault(ctx context.Context, obj *voicev1alpha1.AccountDefault, api VoiceAPI, target string) error {
	current, err := api.GetDefault(ctx)
	previous := ""
	switch {
	case err == nil:
		previous = current.ID
	case !voice.IsNotFound(err):
		return remoteError("reading the account's default configuration", err)
	}
	if previous == target {
		obj.Status.ConfigurationID = target
		return nil
	}
	if err := admit(api, obj, "setting the account's default configuration"); err != nil {
		return err
	}
	if err := api.SetDefault(ctx, target); err != nil {
		if voice.IsNotFound(err) {
			// The id is gone remotely: a referenced ClientConfiguration
			// recreates it at its next resync; a raw id may be fixed by hand.
			obj.Status.ConfigurationID = ""
			return &stepError{reason: voicev1alpha1.ReasonConfigurationNotFound, class: classWaiting, user: true, after: r.ResyncPeriod,
				err: fmt.Errorf("configuration %s does not exist in account %s", target, api.AccountSID())}
		}
		return remoteError("setting the account's default configuration", err)
	}
	obj.Status.ConfigurationID = target
	source := sourceSpec
	if previous != "" && obj.Status.ObservedGeneration == obj.Generation {
		source = sourceRemote
	}
	r.Metrics.driftCorrected(kindAccountDefault, source)
	switch {
	case previous == "":
		r.announce(ctx, obj, corev1.EventTypeNormal, eventDefaultSet, "SetDefault", "Made %s the default of account %s", target, api.AccountSID())
	case source == sourceRemote:
		// A reason of its own, to tell a default put back after a change
		// in Twilio from one set for the spec (see updateReason).
		r.announce(ctx, obj, corev1.EventTypeNormal, eventDefaultRestored, "SetDefault", "Made %s the default of account %s again (it was %s)", target, api.AccountSID(), previous)
	default:
		r.announce(ctx, obj, corev1.EventTypeNormal, eventDefaultSet, "SetDefault", "Made %s the default of account %s (it was %s)", target, api.AccountSID(), previous)
	}
	return nil
}

// reconcileDelete unsets the account's default (policy Delete) only if it is
// still the one this object set, then releases the finalizer.
func (r *AccountDefaultReconciler) reconcileDelete(ctx context.Context, obj *voicev1alpha1.AccountDefault) error {
	if !controllerutil.ContainsFinalizer(obj, voicev1alpha1.Finalizer) {
		return nil
	}
	if obj.Spec.DeletionPolicy == voicev1alpha1.DeletionPolicyDelete && obj.Status.ConfigurationID != "" {
		api, err := r.connector().forDelete(ctx, obj)
		if err != nil {
			step := asStep(err)
			step.err = fmt.Errorf("cannot unset the account's default until the credentials are back (or set spec.deletionPolicy: Orphan): %w", step.err)
			return step
		}
		if err := r.unsetIfOurs(ctx, obj, api); err != nil {
			return err
		}
	}
	return r.releaseFinalizer(ctx, obj)
}

// unsetIfOurs clears the account's default if it is still the one this
// object set; a default someone else chose meanwhile is left alone.
func (r *AccountDefaultReconciler) unsetIfOurs(ctx context.Context, obj *voicev1alpha1.AccountDefault, api VoiceAPI) error {
	if obj.Status.ConfigurationID == "" {
		return nil
	}
	if api.AccountSID() != obj.Status.AccountSID {
		r.announce(ctx, obj, corev1.EventTypeWarning, eventDefaultLeft, "UnsetDefault",
			"The Secret now names account %s, not %s; left the default of %s as it is", api.AccountSID(), obj.Status.AccountSID, obj.Status.AccountSID)
		return nil
	}
	current, err := api.GetDefault(ctx)
	if voice.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return remoteError("reading the account's default configuration", err)
	}
	if current.ID != obj.Status.ConfigurationID {
		r.announce(ctx, obj, corev1.EventTypeNormal, eventDefaultLeft, "UnsetDefault",
			"The account's default is now %s, which this object did not set; left it as it is", current.ID)
		return nil
	}
	if err := admit(api, obj, "unsetting the account's default configuration"); err != nil {
		return err
	}
	if err := api.UnsetDefault(ctx); err != nil && !voice.IsNotFound(err) {
		return remoteError("unsetting the account's default configuration", err)
	}
	r.announce(ctx, obj, corev1.EventTypeNormal, eventDefaultUnset, "UnsetDefault", "Unset %s as the default of account %s", current.ID, api.AccountSID())
	return nil
}

// SetupWithManager registers the controller: AccountDefaults, the
// ClientConfigurations they reference, the other AccountDefaults of the same
// account, and the Secrets they name (metadata only).
func (r *AccountDefaultReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	r.setUp()
	indexer := mgr.GetFieldIndexer()
	indexes := map[string]client.IndexerFunc{
		credentialsIndex: func(o client.Object) []string {
			return []string{o.(*voicev1alpha1.AccountDefault).Spec.CredentialsRef.Name}
		},
		configurationRefIndex: func(o client.Object) []string {
			if ref := o.(*voicev1alpha1.AccountDefault).Spec.ConfigurationRef; ref != nil {
				return []string{ref.Name}
			}
			return nil
		},
		accountIndex: func(o client.Object) []string {
			if sid := o.(*voicev1alpha1.AccountDefault).Status.AccountSID; sid != "" {
				return []string{sid}
			}
			return nil
		},
	}
	for field, extract := range indexes {
		if err := indexer.IndexField(ctx, &voicev1alpha1.AccountDefault{}, field, extract); err != nil {
			return fmt.Errorf("indexing AccountDefaults by %s: %w", field, err)
		}
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&voicev1alpha1.AccountDefault{}, builder.WithPredicates(reconcileTriggers())).
		Watches(&voicev1alpha1.ClientConfiguration{}, handler.EnqueueRequestsFromMapFunc(r.referencing)).
		Watches(&voicev1alpha1.AccountDefault{}, handler.EnqueueRequestsFromMapFunc(r.sameAccount), builder.WithPredicates(accountChanged())).
		WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(dependentsOfSecret(mgr.GetClient(), &voicev1alpha1.AccountDefaultList{}))).
		WithOptions(controller.Options{MaxConcurrentReconciles: 1}).
		Named("accountdefault").
		Complete(r)
}

// referencing maps a ClientConfiguration to the AccountDefaults that name it.
func (r *AccountDefaultReconciler) referencing(ctx context.Context, cc client.Object) []reconcile.Request {
	return r.requestsFor(ctx, client.InNamespace(cc.GetNamespace()), client.MatchingFields{configurationRefIndex: cc.GetName()})
}

// sameAccount maps an AccountDefault to every AccountDefault of its account,
// so that when one appears, is deleted or records its account, the others
// pick the owner again.
func (r *AccountDefaultReconciler) sameAccount(ctx context.Context, ad client.Object) []reconcile.Request {
	sid := ad.(*voicev1alpha1.AccountDefault).Status.AccountSID
	if sid == "" {
		return nil
	}
	return r.requestsFor(ctx, client.MatchingFields{accountIndex: sid})
}

func (r *AccountDefaultReconciler) requestsFor(ctx context.Context, opts ...client.ListOption) []reconcile.Request {
	list := &voicev1alpha1.AccountDefaultList{}
	if err := r.Client.List(ctx, list, opts...); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Failed to list AccountDefaults")
		return nil
	}
	requests := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		requests = append(requests, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return requests
}

// accountChanged lets through the AccountDefault events that can change who
// owns an account: one recording its account, being deleted or going away.
func accountChanged() predicate.Predicate {
	return predicate.Funcs{
		CreateFunc: func(event.CreateEvent) bool { return false },
		UpdateFunc: func(e event.UpdateEvent) bool {
			o, n := e.ObjectOld.(*voicev1alpha1.AccountDefault), e.ObjectNew.(*voicev1alpha1.AccountDefault)
			return o.Status.AccountSID != n.Status.AccountSID || o.DeletionTimestamp.IsZero() != n.DeletionTimestamp.IsZero()
		},
		DeleteFunc: func(event.DeleteEvent) bool { return true },
	}
}
