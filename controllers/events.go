package controllers

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
)

// warnOnChange records a Warning Event for a failure, once: only when the
// Ready condition's reason or message differs from the last one written, so a
// retry loop does not flood the Events of the namespace.
func warnOnChange(recorder events.EventRecorder, obj runtime.Object, old []metav1.Condition, state conditionState) {
	if prev := meta.FindStatusCondition(old, voicev1alpha1.ConditionReady); prev != nil &&
		prev.Reason == state.reason && prev.Message == truncate(state.message) {
		return
	}
	recorder.Eventf(obj, nil, corev1.EventTypeWarning, state.reason, "Reconcile", "%s", truncate(state.message))
}
