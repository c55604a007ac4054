package controllers

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	eventsv1client "k8s.io/client-go/kubernetes/typed/events/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
	"github.com/twilio-operator/voice-operator/internal/eventrecorder"
)

// NewEventRecorder returns the recorder of the operator's Events, added to
// mgr to write them with writers in parallel (as many as reconciles run in
// parallel): one that keeps no copy of what it wrote (see package
// eventrecorder), where the manager's own would keep each for minutes.
func NewEventRecorder(mgr ctrl.Manager, controller string, writers int) (events.EventRecorder, error) {
	client, err := eventsv1client.NewForConfigAndClient(mgr.GetConfig(), mgr.GetHTTPClient())
	if err != nil {
		return nil, fmt.Errorf("creating the Events client: %w", err)
	}
	recorder := eventrecorder.New(mgr.GetScheme(), eventrecorder.APISink{Client: client}, controller, mgr.GetLogger().WithName("events"), eventrecorder.Options{Writers: writers})
	if err := mgr.Add(recorder); err != nil {
		return nil, fmt.Errorf("adding the Event recorder: %w", err)
	}
	return recorder, nil
}

// warnOnChange records a Warning Event for a failure, once: only when it
// differs from the failure last written, so a retry loop does not flood the
// Events of the namespace.
func warnOnChange(recorder events.EventRecorder, obj runtime.Object, old []metav1.Condition, state conditionState) {
	if sameFailure(old, state.reason, state.message) {
		return
	}
	kind := corev1.EventTypeWarning
	if state.progress {
		kind = corev1.EventTypeNormal
	}
	recorder.Eventf(obj, nil, kind, state.reason, "Reconcile", "%s", truncate(state.message))
}

// sameFailure reports whether old conditions already tell of this failure:
// the same reason on Ready, and the same whole message on Reconciling or
// Stalled (Ready carries only its first clause).
func sameFailure(old []metav1.Condition, reason, message string) bool {
	ready := meta.FindStatusCondition(old, voicev1alpha1.ConditionReady)
	if ready == nil || ready.Reason != reason {
		return false
	}
	for _, t := range []string{voicev1alpha1.ConditionReconciling, voicev1alpha1.ConditionStalled} {
		if c := meta.FindStatusCondition(old, t); c != nil && c.Message == truncate(message) {
			return true
		}
	}
	return false
}
