package controllers

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
)

// patchMetadata applies mutate to obj and, if its metadata changed, writes it
// with a merge patch that carries the resourceVersion, so a finalizer list
// edited meanwhile by someone else is never overwritten (the conflict is
// retried by the workqueue).
//
// The patch is sent for a copy: the apiserver's answer holds the stored
// status, which must not overwrite the status this reconcile is building in
// obj. Only the new resourceVersion is carried back.
func patchMetadata(ctx context.Context, c client.Client, obj client.Object, mutate func()) error {
	// Every reconcile passes here to ensure the finalizer, so the common
	// "nothing to change" answer comes from comparing the two fields a
	// metadata patch may touch, not from marshalling the whole object.
	finalizers, annotations := slices.Clone(obj.GetFinalizers()), maps.Clone(obj.GetAnnotations())
	mutate()
	if equality.Semantic.DeepEqual(finalizers, obj.GetFinalizers()) && equality.Semantic.DeepEqual(annotations, obj.GetAnnotations()) {
		return nil
	}
	before := obj.DeepCopyObject().(client.Object)
	before.SetFinalizers(finalizers)
	before.SetAnnotations(annotations)
	data, err := client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}).Data(obj)
	if err != nil {
		return fmt.Errorf("computing metadata patch: %w", err)
	}
	sent := obj.DeepCopyObject().(client.Object)
	if err := c.Patch(ctx, sent, client.RawPatch(types.MergePatchType, data)); err != nil {
		return fmt.Errorf("updating metadata: %w", err)
	}
	obj.SetResourceVersion(sent.GetResourceVersion())
	return nil
}

// isPaused reports whether the paused annotation stops remote calls.
func isPaused(obj client.Object) bool {
	return obj.GetAnnotations()[voicev1alpha1.AnnotationPaused] == "true"
}

// reconcileTriggers lets through the updates that can change what a
// reconcile does: a new generation (spec), deletion, or one of the
// annotations a person steers with. Status writes and the controller's own
// marker annotation do not trigger another reconcile, which would cost a
// remote read for nothing.
func reconcileTriggers() predicate.Predicate {
	steering := []string{voicev1alpha1.AnnotationPaused, voicev1alpha1.AnnotationReconcileRequestedAt, voicev1alpha1.AnnotationAdopt}
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			if e.ObjectOld == nil || e.ObjectNew == nil {
				return true
			}
			if e.ObjectOld.GetGeneration() != e.ObjectNew.GetGeneration() {
				return true
			}
			if e.ObjectOld.GetDeletionTimestamp().IsZero() != e.ObjectNew.GetDeletionTimestamp().IsZero() {
				return true
			}
			for _, key := range steering {
				if e.ObjectOld.GetAnnotations()[key] != e.ObjectNew.GetAnnotations()[key] {
					return true
				}
			}
			return false
		},
	}
}
