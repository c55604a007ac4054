package controllers

import (
	"context"
	"errors"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/client-go/tools/events"
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
}

func (d *Deps) connector() connector {
	return connector{secrets: d.APIReader, clients: d.Clients}
}

// object is what the skeleton needs of an API object.
type object interface {
	client.Object
	GetCommonStatus() *voicev1alpha1.CommonStatus
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
	requeueAfter() time.Duration
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
	if isPaused(obj) {
		ctrl.LoggerFrom(ctx).V(1).Info("Skipped paused object")
		return ctrl.Result{}, nil
	}
	old := obj.DeepCopyObject().(T)

	var err error
	if !obj.GetDeletionTimestamp().IsZero() {
		err = k.reconcileDelete(ctx, obj)
	} else {
		err = k.reconcileNormal(ctx, obj)
	}

	summarise(d.Recorder, d.Metrics, k.name(), obj, old.GetCommonStatus().Conditions, err, k.readyMessage(obj))
	// The patch is computed against obj with its old status, so that it holds
	// the status change only, not the metadata this reconcile may have
	// written meanwhile.
	before := obj.DeepCopyObject().(T)
	k.copyStatus(before, old)
	changed := !equality.Semantic.DeepEqual(k.status(obj), k.status(old))
	if perr := patchStatus(ctx, d.Client, obj, before, changed, touchLastSync(obj, err)); perr != nil {
		return ctrl.Result{}, errors.Join(err, perr)
	}
	return result(err, k.requeueAfter())
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

// releaseFinalizer removes the finalizer once the remote side is cleaned up.
func releaseFinalizer(ctx context.Context, c client.Client, obj client.Object) error {
	if err := patchMetadata(ctx, c, obj, func() { controllerutil.RemoveFinalizer(obj, voicev1alpha1.Finalizer) }); err != nil {
		return transient(voicev1alpha1.ReasonProgressing, err)
	}
	return nil
}
